// `sandbox-admission serve` as its own process, for tests of how it starts and stops.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from '../e2e/harness/process.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function startServeProcess(dir: string, name: string, args: readonly string[]): ManagedProcess {
  return startProcess(name, process.execPath, [join(REPO, 'src/cli/main.ts'), 'serve', ...args], join(dir, `${name}.log`));
}

/** The exit code (or signal) within `timeoutMs`, or 'still running'. */
export async function exitWithin(proc: ManagedProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('still running'), timeoutMs);
  });
  const result = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  return result;
}

export function jsonLines(proc: ManagedProcess): Array<Record<string, unknown>> {
  return readFileSync(proc.logPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The first JSON log line whose msg is `msg`, once it is written; fails with the log if serve exits first or it never comes. */
export async function waitForLog(proc: ManagedProcess, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = jsonLines(proc).find((l) => l['msg'] === msg);
    if (line) return line;
    if (proc.hasExited()) assert.fail(`serve exited before "${msg}":\n${readFileSync(proc.logPath, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`no "${msg}" within ${timeoutMs} ms:\n${readFileSync(proc.logPath, 'utf8')}`);
}
