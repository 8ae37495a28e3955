import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCoalescedRun } from '../../../src/util/coalesced-run.ts';

/** A run the test finishes by hand, counting how many started and how many ran at once. */
function gatedRun() {
  const gates: Array<() => void> = [];
  let started = 0;
  let active = 0;
  let maxActive = 0;
  const run = async (): Promise<number> => {
    const n = ++started;
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
    return n;
  };
  const release = async () => {
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { run, release, started: () => started, maxActive: () => maxActive };
}

describe('createCoalescedRun', () => {
  it('calls during a run share it and ask for exactly one more, never a parallel one', async () => {
    const g = gatedRun();
    const trigger = createCoalescedRun(g.run);
    const first = trigger();
    const second = trigger();
    const third = trigger();
    assert.equal(first, second);
    assert.equal(second, third);
    await g.release();
    assert.equal(g.started(), 2, 'one more run for the calls that came during the first');
    await g.release();
    assert.equal(await first, 2, 'the shared promise has the last run’s value');
    assert.equal(g.maxActive(), 1);
    const later = trigger();
    assert.notEqual(later, first, 'a call after it ended starts a new run');
    await g.release();
    assert.equal(await later, 3);
  });

  it('stops repeating once keepGoing says no', async () => {
    const g = gatedRun();
    let going = true;
    const trigger = createCoalescedRun(g.run, () => going);
    const done = trigger();
    trigger();
    going = false;
    await g.release();
    assert.equal(await done, 1);
    assert.equal(g.started(), 1);
  });

  it('a failed run rejects its callers and leaves the trigger usable', async () => {
    let fail = true;
    const trigger = createCoalescedRun(async () => {
      if (fail) throw new Error('boom');
      return 'ok';
    });
    await assert.rejects(trigger(), /boom/);
    fail = false;
    assert.equal(await trigger(), 'ok');
  });
});
