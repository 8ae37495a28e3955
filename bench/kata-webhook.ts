import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LogSummary } from './load.ts';

/**
 * kata-webhook (kata-containers tools/testing/kata-webhook, Go, slok/kubewebhook) as a peer row of the load
 * table: where its binary is, how it is started, how its readiness and log are read. It is built outside the
 * repository by bench/build-kata-webhook.sh, whose patch makes it listen on 127.0.0.1:$KATA_WEBHOOK_PORT.
 */

export const KATA_WEBHOOK = 'kata-webhook';
/** Its logrus line once the patched copy has bound its socket: `level=info msg="Listening on 127.0.0.1:N"`. */
export const KATA_READY_MESSAGE = 'Listening on';
export const KATA_HOW_TO =
  'kata-webhook not run: build it with `bench/build-kata-webhook.sh <kata-containers checkout or git dir>` (it caches the binary, which is then found by itself) or pass `--kata-webhook <binary>`';

const CACHE_DIR = process.env.SANDBOX_ADMISSION_CACHE || join(homedir(), '.cache', 'sandbox-admission');

/**
 * The binary to run: `--kata-webhook <path>` when given (an error if it is not executable), else the newest
 * build in the cache, else undefined.
 */
export function locateKataWebhook(option: string | undefined): string | undefined {
  if (option) {
    try {
      accessSync(option, constants.X_OK);
    } catch {
      throw new Error(`--kata-webhook ${option}: not an executable file (build it with bench/build-kata-webhook.sh)`);
    }
    return option;
  }
  let entries: string[];
  try {
    entries = readdirSync(CACHE_DIR).filter((e) => e.startsWith('kata-webhook-'));
  } catch {
    return undefined;
  }
  const builds = entries
    .map((e) => join(CACHE_DIR, e, 'kata-webhook'))
    .flatMap((path) => {
      try {
        return [{ path, mtimeMs: statSync(path).mtimeMs }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  return builds[0]?.path;
}

export function kataWebhookArgs(certFile: string, keyFile: string): string[] {
  return ['--tls-cert-file', certFile, '--tls-key-file', keyFile];
}

/**
 * The environment it reads: port 0 asks the patched copy for a free port, logged in its ready line; RUNTIME_CLASS
 * empty keeps its default class (kata), whatever the caller's environment holds.
 */
export const KATA_WEBHOOK_ENV: Readonly<Record<string, string>> = { KATA_WEBHOOK_PORT: '0', RUNTIME_CLASS: 'kata' };

export function readKataPort(line: string): number | undefined {
  const match = /Listening on (?:127\.0\.0\.1|\[::1\]):(\d+)/.exec(line);
  const port = match ? Number(match[1]) : NaN;
  return port > 0 ? port : undefined;
}

/**
 * What kata-webhook answers for a review: allowed, with a patch setting runtimeClassName kata, except for a pod
 * on the host network, which it passes unchanged (Kata cannot run those; upstream's annotatePodMutator).
 */
export function expectKataAnswer(
  uid: string,
  hostNetwork: boolean,
): { uid: string; allowed: true; runtime?: string; toleratesOtherOps: true } {
  return hostNetwork ? { uid, allowed: true, toleratesOtherOps: true } : { uid, allowed: true, runtime: 'kata', toleratesOtherOps: true };
}

/**
 * Lines of its log (logrus text and fmt.Println, not JSON) from byte `start` that show a failure: logrus
 * error/fatal/panic levels, a Go panic or fatal error, or its own "error ..." exits. At most 20.
 */
export function findKataLogProblems(logFile: string, start: number): { problems: string[]; end: number } {
  const text = readFileSync(logFile).subarray(start).toString('utf8');
  const problems = text
    .split('\n')
    .filter((line) => /level=(error|fatal|panic)\b|^panic:|^fatal error:|^error (serving|listening|creating)/.test(line))
    .slice(0, 20)
    .map((line) => line.slice(0, 500));
  return { problems, end: start + Buffer.byteLength(text) };
}

/** Its log since byte `start`, as readLog's summary: only problems are read (it logs no decision durations). */
export function readKataLog(logFile: string, start: number): { summary: LogSummary; end: number } {
  const { problems, end } = findKataLogProblems(logFile, start);
  return { summary: { lines: 0, decisions: 0, problems, durationsByPod: new Map() }, end };
}
