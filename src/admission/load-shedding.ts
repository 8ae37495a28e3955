import { getHeapStatistics } from 'node:v8';

/**
 * How much admission work the server takes on at once. Everything past these limits is refused as soon as the
 * request headers have arrived, before a byte of the body is buffered, with 429 (too much in flight) or 503 (the
 * process itself is under pressure) and `Retry-After: 1`: the API server's webhook client retries such answers
 * within the webhook's timeout, and a quick refusal costs it milliseconds where a slow answer costs the timeout.
 *
 * Memory arithmetic (see README "Limits and load"): a review body is buffered whole, then parsed; a parsed review
 * takes up to ~2.5x its text in heap (many small objects: env lists), so one maximum-size body costs ~25 MiB at its
 * peak. Large bodies share `maxLargeBodyBytes`; small ones (most reviews) only count against `maxRequests`, so a
 * flood of large bodies can never crowd out ordinary pod reviews.
 */
export interface LoadLimits {
  /** Admission requests being read or answered at once. */
  maxRequests: number;
  /** A body of more than this many bytes is "large". */
  largeBodyThresholdBytes: number;
  /** Declared bytes of large bodies in flight at once; a body without Content-Length counts as the body limit. */
  maxLargeBodyBytes: number;
  /** Shed while the event loop lags more than this (mean over the last sample), ms. 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /** Shed while the V8 heap holds more than this. 0 turns the check off. */
  maxHeapUsedBytes: number;
}

const mebibyte = 1024 * 1024;

export function defaultLoadLimits(): LoadLimits {
  return {
    maxRequests: 128,
    largeBodyThresholdBytes: 128 * 1024,
    maxLargeBodyBytes: 8 * mebibyte,
    maxEventLoopDelayMs: 1000,
    // Node sizes its heap from the container's memory limit; refuse new work well before the heap is full.
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.8),
  };
}

export type ShedReason = 'requests-in-flight' | 'large-bodies-in-flight' | 'event-loop-delay' | 'heap-used' | 'shutting-down';

export type Admission = { ok: true; release(): void } | { ok: false; reason: ShedReason };

export interface InFlightGate {
  /** Take a slot for a request announcing `contentLength` bytes (undefined: chunked, unknown). */
  admit(contentLength: number | undefined): Admission;
  inFlight(): { requests: number; largeBodyBytes: number };
}

/** Counts requests and large-body bytes in flight; every admitted request must call release() exactly once. */
export function createInFlightGate(
  limits: Pick<LoadLimits, 'maxRequests' | 'largeBodyThresholdBytes' | 'maxLargeBodyBytes'>,
  bodyLimitBytes: number,
  onChange: (inFlight: { requests: number; largeBodyBytes: number }) => void = () => {},
): InFlightGate {
  let requests = 0;
  let largeBodyBytes = 0;
  return {
    admit(contentLength) {
      if (requests >= limits.maxRequests) return { ok: false, reason: 'requests-in-flight' };
      // Over the body limit: the request is answered 413 without reading the body, so it takes no body budget.
      const declared = contentLength === undefined ? bodyLimitBytes : contentLength > bodyLimitBytes ? 0 : contentLength;
      const large = declared > limits.largeBodyThresholdBytes ? declared : 0;
      if (large > 0 && largeBodyBytes + large > limits.maxLargeBodyBytes) return { ok: false, reason: 'large-bodies-in-flight' };
      requests += 1;
      largeBodyBytes += large;
      onChange({ requests, largeBodyBytes });
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          requests -= 1;
          largeBodyBytes -= large;
          onChange({ requests, largeBodyBytes });
        },
      };
    },
    inFlight: () => ({ requests, largeBodyBytes }),
  };
}

/** Content-Length as a number, undefined when absent or unreadable (Node's HTTP parser refuses the latter itself). */
export function parseContentLength(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}
