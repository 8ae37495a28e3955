import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoadLimits, ShedReason } from './load-shedding.ts';

/** Whether the process is too pressed to take on an admission request, from the last sample. */
export interface PressureMonitor {
  /** The reason to shed now, or undefined. A lookup of the last sample: cheap enough for every request. */
  reason(): ShedReason | undefined;
  stop(): void;
}

export type PressureSample = { eventLoopDelayMs: number; heapUsedBytes: number };

/** The histogram's own resolution, ms: its mean never falls below it, so it is taken off (as under-pressure did). */
const RESOLUTION_MS = 10;

/**
 * Samples the event loop delay (mean over the interval, less the histogram's resolution) and the V8 heap every
 * `sampleIntervalMs`, on an unref'd timer that never keeps the process alive. The semantics are those of
 * @fastify/under-pressure, which this replaced when the admission routes left fastify's request pipeline
 * (review-lane.ts): checking per request costs a comparison, the sampling a few µs four times a second.
 */
export function startPressureMonitor(
  limits: Pick<LoadLimits, 'maxEventLoopDelayMs' | 'maxHeapUsedBytes'>,
  sampleIntervalMs = 250,
): PressureMonitor {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let sample: PressureSample = { eventLoopDelayMs: 0, heapUsedBytes: 0 };
  const timer = setInterval(
    () => {
      sample = { eventLoopDelayMs: eventLoopDelayMs(histogram.mean), heapUsedBytes: process.memoryUsage().heapUsed };
      histogram.reset();
    },
    Math.max(RESOLUTION_MS, sampleIntervalMs),
  );
  timer.unref();
  return {
    reason: () => judgePressure(sample, limits),
    stop: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

/** The histogram's mean (ns) as a delay past the resolution, ms; no sample at all counts as a stalled loop. */
export function eventLoopDelayMs(meanNs: number): number {
  const delay = Math.max(0, meanNs / 1e6 - RESOLUTION_MS);
  return Number.isNaN(delay) ? Number.POSITIVE_INFINITY : delay;
}

/** A limit of 0 turns its check off. */
export function judgePressure(
  sample: PressureSample,
  limits: Pick<LoadLimits, 'maxEventLoopDelayMs' | 'maxHeapUsedBytes'>,
): ShedReason | undefined {
  if (limits.maxEventLoopDelayMs > 0 && sample.eventLoopDelayMs > limits.maxEventLoopDelayMs) return 'event-loop-delay';
  if (limits.maxHeapUsedBytes > 0 && sample.heapUsedBytes > limits.maxHeapUsedBytes) return 'heap-used';
  return undefined;
}
