import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { DestinationStream, LevelWithSilentOrString, Logger, LoggerOptions } from 'pino';

export type CreateLoggerOptions = {
  level: LevelWithSilentOrString;
  /** Human-readable output through pino-pretty, when it is installed (a dev-only nicety). */
  pretty?: boolean;
  /** Where JSON lines go; stdout when absent. Tests pass a stream and parse the lines. */
  destination?: DestinationStream;
};

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
  return destination ? pino(options, destination) : pino(options);
}

function resolvePrettyTarget(): string | undefined {
  try {
    // pino-pretty is not a dependency: resolve it only if a developer installed it.
    return createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
}
