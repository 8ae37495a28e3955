import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { DestinationStream, LevelWithSilentOrString, Logger, LoggerOptions } from 'pino';
import { createBatchedFdWriter } from './batched-fd-writer.ts';

export type CreateLoggerOptions = {
  level: LevelWithSilentOrString;
  /** Human-readable output through pino-pretty, when it is installed (a dev-only nicety). */
  pretty?: boolean;
  /** Where JSON lines go; stdout when absent. Tests pass a stream and parse the lines. */
  destination?: DestinationStream;
};

/**
 * Lines to stdout are buffered up to this many bytes (about forty decision lines) and written in one synchronous
 * syscall (batched-fd-writer.ts); whatever is buffered is written at least every STDOUT_FLUSH_MS and when the
 * process exits (a fatal line before exit(1) included). At rest a line reaches `kubectl logs` within 100 ms.
 */
const STDOUT_BUFFER_BYTES = 16384;
const STDOUT_FLUSH_MS = 100;

/** Streams written to by a logger of createJsonLogger's exact configuration: writeInfoLine may format for them. */
const plainJsonStreams = new WeakSet<object>();

/** One JSON line per event on stdout; the one logger every module receives as an argument. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const base: LoggerOptions = {
    level: options.level,
    // ISO time reads well in `kubectl logs` and log stores parse it as well as epoch millis.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.pretty && options.destination === undefined) {
    const prettyTarget = resolvePrettyTarget();
    if (prettyTarget) return pino({ ...base, transport: { target: prettyTarget } });
    const logger = createJsonLogger(base, undefined);
    logger.warn({ module: 'pino-pretty' }, 'pretty logging requested but not installed; logging JSON');
    return logger;
  }
  return createJsonLogger(base, options.destination);
}

function createJsonLogger(base: LoggerOptions, destination: DestinationStream | undefined): Logger {
  const options: LoggerOptions = {
    ...base,
    // "level":"info" instead of 30: log stores and people filter on the label.
    formatters: { level: (label) => ({ level: label }) },
  };
  const stream = destination ?? bufferedStdout();
  plainJsonStreams.add(stream);
  return pino(options, stream);
}

function bufferedStdout(): DestinationStream {
  return createBatchedFdWriter(1, { maxBytes: STDOUT_BUFFER_BYTES, flushMs: STDOUT_FLUSH_MS });
}

/**
 * `logger.child(bindings).info(fields, message)` for a logger from createLogger (and its children), the line byte
 * for byte as pino writes it, at a third of the CPU and without a child logger: one native JSON.stringify of the
 * fields instead of pino's key-by-key serialisation (about 10 µs of the webhook's CPU per review, measured in
 * bench/PROFILE.md). Meant for the one line per admission review, whose fields are plain strings, numbers,
 * booleans and arrays of them; any other logger, or fields with an error, take pino's own path.
 */
export function writeInfoLine(
  logger: Logger,
  fields: Record<string, unknown>,
  message: string,
  bindings?: Readonly<Record<string, string>>,
): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as DestinationStream | undefined;
  if (stream === undefined || !plainJsonStreams.has(stream) || 'err' in fields) {
    (bindings ? logger.child(bindings) : logger).info(fields, message);
    return;
  }
  if (!logger.isLevelEnabled('info')) return;
  let chindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  if (bindings) for (const key in bindings) chindings += `,${JSON.stringify(key)}:${JSON.stringify(bindings[key])}`;
  const body = JSON.stringify(fields);
  // pino's layout: level, time, the bindings (pid, hostname, reqId, ...), the fields in order, msg last.
  const inner = body.length > 2 ? `,${body.slice(1, -1)}` : '';
  stream.write(`{"level":"info","time":"${new Date().toISOString()}"${chindings}${inner},"msg":${JSON.stringify(message)}}\n`);
}

function resolvePrettyTarget(): string | undefined {
  try {
    // pino-pretty is not a dependency: resolve it only if a developer installed it.
    return createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
}
