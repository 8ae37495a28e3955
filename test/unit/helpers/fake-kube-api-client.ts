// The one fake KubeApiClient of the unit and integration tests: it records every request as sent and answers
// through the test's handler, which returns the JSON body or throws (kubeApiError for a non-2xx answer).
import { type ApiRequest, KubeApiError, type KubeApiClient, type QueryValue, type WatchEvent } from '../../../src/kube/api-client.ts';

export type FakeHandler = (request: ApiRequest) => unknown;

export interface FakeKubeApiClient extends KubeApiClient {
  /** Every request in the order sent (the signal left out, so deepEqual compares what went on the wire). */
  requests: Array<Omit<ApiRequest, 'signal'>>;
  /** Answer the next request to `path` (any method) with this error instead of the handler. */
  failNext(path: string, error: unknown): void;
  /** Every watch started, in order. */
  watches: Array<{ path: string; query: Record<string, QueryValue> }>;
}

/**
 * A watch stream the test feeds: events pushed are delivered in order; end() closes it as a server ending the
 * watch does, fail() breaks it as a dropped connection does; aborting the signal ends it. `settled()` waits until
 * the consumer has handled what was pushed.
 */
export interface WatchChannel {
  /** The stream of one watch; it reports itself connected as soon as it is read. */
  stream(signal: AbortSignal, onConnected?: () => void): AsyncIterable<WatchEvent>;
  push(event: WatchEvent): Promise<void>;
  end(): Promise<void>;
  fail(error: Error): Promise<void>;
}

export function createWatchChannel(): WatchChannel {
  const queue: Array<WatchEvent | { end: true } | { error: Error }> = [];
  let notify: (() => void) | undefined;
  const settled = () => new Promise<void>((resolve) => setImmediate(resolve));
  const put = (item: (typeof queue)[number]) => {
    queue.push(item);
    notify?.();
    return settled();
  };
  return {
    async *stream(signal, onConnected) {
      onConnected?.();
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      while (!signal.aborted) {
        const item = queue.shift();
        if (!item) {
          await Promise.race([new Promise<void>((resolve) => (notify = resolve)), aborted]);
          continue;
        }
        if ('end' in item) return;
        if ('error' in item) throw item.error;
        yield item;
      }
    },
    push: (event) => put(event),
    end: () => put({ end: true }),
    fail: (error) => put({ error }),
  };
}

export type FakeWatchHandler = (
  path: string,
  query: Readonly<Record<string, QueryValue>>,
  signal: AbortSignal,
  onConnected?: () => void,
) => AsyncIterable<WatchEvent>;

export function createFakeKubeApiClient(handler: FakeHandler = () => undefined, watchHandler?: FakeWatchHandler): FakeKubeApiClient {
  const requests: FakeKubeApiClient['requests'] = [];
  const watches: FakeKubeApiClient['watches'] = [];
  const failures = new Map<string, unknown>();
  return {
    requests,
    failNext: (path, error) => failures.set(path, error),
    request: async <T>(request: ApiRequest): Promise<T> => {
      const { signal: _signal, ...sent } = request;
      requests.push(structuredClone(sent));
      // A round trip: concurrent callers interleave as they would against a server.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const failure = failures.get(request.path);
      if (failure !== undefined) {
        failures.delete(request.path);
        throw failure;
      }
      return structuredClone(await handler(request)) as T;
    },
    watch: <T>(
      path: string,
      query: Readonly<Record<string, QueryValue>>,
      signal: AbortSignal,
      onConnected?: () => void,
    ): AsyncIterable<WatchEvent<T>> => {
      if (!watchHandler) throw new Error('this fake KubeApiClient was given no watch handler');
      watches.push({ path, query: { ...query } });
      return watchHandler(path, query, signal, onConnected) as AsyncIterable<WatchEvent<T>>;
    },
    watches,
  };
}

/** The error a real API server answer gives: a Status body with the code, reason and message. */
export function kubeApiError(code: number, message: string, reason = reasonOf(code), request = { method: 'GET', path: '/' }): KubeApiError {
  return new KubeApiError(
    request.method as ApiRequest['method'],
    request.path,
    code,
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }),
  );
}

function reasonOf(code: number): string {
  return (
    { 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 422: 'Invalid' }[code as 403 | 404 | 409 | 410 | 422] ?? 'Unknown'
  );
}

/** A list page as the API server pages it: `limit` objects from the offset in `continue`, the next offset in metadata. */
export function pageOf<T>(items: readonly T[], query: ApiRequest['query']): { items: T[]; metadata: { continue?: string } } {
  const start = query?.continue ? Number(query.continue) : 0;
  const limit = query?.limit === undefined ? undefined : Number(query.limit);
  const end = limit ? start + limit : items.length;
  return { items: items.slice(start, end), metadata: end < items.length ? { continue: String(end) } : {} };
}
