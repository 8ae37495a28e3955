import { writeSync } from 'node:fs';

/**
 * Log lines for a file descriptor (stdout), gathered and written in one synchronous `write(2)` per batch: at
 * `maxBytes` buffered, after `flushMs` at the latest, and at process exit (a fatal line before exit(1) included).
 * Why not pino's asynchronous sonic-boom: every batch went through the libuv thread pool and a completion callback,
 * which cost the webhook 5-7 µs of CPU per line in isolation and the largest single share of its profile under load
 * (bench/PROFILE.md); a synchronous write of 16 KiB (about 40 decision lines) costs less than one of those lines.
 * Synchronous is also pino's own default for stdout. A pipe that is full (EAGAIN, when another module made fd 1
 * non-blocking) is waited on briefly and retried, as sonic-boom does: no line is dropped while stdout is open.
 */
export interface BatchedFdWriter {
  write(line: string): boolean;
  flushSync(): void;
  flush(callback?: (error?: Error) => void): void;
}

export interface BatchedFdWriterOptions {
  maxBytes: number;
  flushMs: number;
  /** Replaceable in tests. */
  writeSync?: (fd: number, buffer: Uint8Array, offset: number, length: number) => number;
}

const EAGAIN_WAIT_MS = 10;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** One exit hook for every writer (a test process makes hundreds of loggers). WeakRefs: a dropped writer is collected. */
const writers = new Set<WeakRef<BatchedFdWriter>>();
let exitHooked = false;

export function createBatchedFdWriter(fd: number, options: BatchedFdWriterOptions): BatchedFdWriter {
  const write = options.writeSync ?? ((f, buffer, offset, length) => writeSync(f, buffer, offset, length));
  let pending: string[] = [];
  let pendingLength = 0;
  let timer: NodeJS.Timeout | undefined;

  const flushSync = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const bytes = Buffer.from(pending.length === 1 ? (pending[0] as string) : pending.join(''), 'utf8');
    pending = [];
    pendingLength = 0;
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += write(fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        // A closed or broken stdout (EPIPE, EBADF) cannot take this batch or any line saying so: a log write must
        // never fail the review that wrote it.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        Atomics.wait(sleeper, 0, 0, EAGAIN_WAIT_MS);
      }
    }
  };
  const writer: BatchedFdWriter = {
    write: (line) => {
      pending.push(line);
      pendingLength += line.length;
      if (pendingLength >= options.maxBytes) flushSync();
      else if (!timer) timer = setTimeout(flushSync, options.flushMs).unref();
      return true;
    },
    flushSync,
    flush: (callback) => {
      try {
        flushSync();
        callback?.();
      } catch (error) {
        callback?.(error as Error);
      }
    },
  };
  writers.add(new WeakRef(writer));
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const ref of writers) ref.deref()?.flushSync();
    });
  }
  return writer;
}
