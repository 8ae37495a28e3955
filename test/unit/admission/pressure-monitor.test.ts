import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { eventLoopDelayMs, judgePressure, startPressureMonitor } from '../../../src/admission/pressure-monitor.ts';

describe('judgePressure', () => {
  const limits = { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 100 };

  it('sheds past a limit only, the event loop first, and never on a limit of 0', () => {
    assert.equal(judgePressure({ eventLoopDelayMs: 1000, heapUsedBytes: 100 }, limits), undefined);
    assert.equal(judgePressure({ eventLoopDelayMs: 1001, heapUsedBytes: 0 }, limits), 'event-loop-delay');
    assert.equal(judgePressure({ eventLoopDelayMs: 0, heapUsedBytes: 101 }, limits), 'heap-used');
    assert.equal(judgePressure({ eventLoopDelayMs: 5000, heapUsedBytes: 500 }, limits), 'event-loop-delay');
    const off = { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 };
    assert.equal(judgePressure({ eventLoopDelayMs: Number.POSITIVE_INFINITY, heapUsedBytes: 2 ** 40 }, off), undefined);
  });

  it('agrees with the two comparisons for any sample and limits', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), fc.nat(), (delay, heap, maxDelay, maxHeap) => {
        const reason = judgePressure(
          { eventLoopDelayMs: delay, heapUsedBytes: heap },
          { maxEventLoopDelayMs: maxDelay, maxHeapUsedBytes: maxHeap },
        );
        const lagging = maxDelay > 0 && delay > maxDelay;
        const full = maxHeap > 0 && heap > maxHeap;
        assert.equal(reason, lagging ? 'event-loop-delay' : full ? 'heap-used' : undefined);
      }),
    );
  });
});

describe('eventLoopDelayMs', () => {
  it('takes the 10 ms resolution off the mean, never below 0, and reads no sample as a stalled loop', () => {
    assert.equal(eventLoopDelayMs(10_500_000), 0.5);
    assert.equal(eventLoopDelayMs(2_000_000), 0);
    assert.equal(eventLoopDelayMs(Number.NaN), Number.POSITIVE_INFINITY);
  });
});

describe('startPressureMonitor', () => {
  it('reports the heap past its limit from the first sample, and nothing before it', async () => {
    const monitor = startPressureMonitor({ maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1 }, 20);
    try {
      assert.equal(monitor.reason(), undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(monitor.reason(), 'heap-used');
    } finally {
      monitor.stop();
    }
  });
});
