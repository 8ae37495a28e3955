/**
 * "Run now, or once more when the current run ends": the reconcile loops' trigger. Calls while a run is under way
 * do not start a second one in parallel; they ask for exactly one more run after it (however many calls came),
 * and share its promise. The promise resolves with the last run's value. `keepGoing` is asked before each extra
 * run (a stopped loop stops repeating).
 */
export function createCoalescedRun<T>(run: () => Promise<T>, keepGoing: () => boolean = () => true): () => Promise<T> {
  let running: Promise<T> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let result: T;
      do {
        again = false;
        result = await run();
      } while (again && keepGoing());
      return result;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}
