import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BINARY = fileURLToPath(new URL('../../bin/sandbox-admission.js', import.meta.url));

export interface BinaryRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: bin/sandbox-admission.js in its own process, on this Node unless told otherwise. */
export function runBinary(
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; node?: string } = {},
): BinaryRun {
  const result = spawnSync(options.node ?? process.execPath, [BINARY, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    input: options.input ?? '',
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** stderr is exactly one line (a usage or set-up error, never a stack trace). */
export function isOneLine(text: string): boolean {
  return /^[^\n]+\n$/.test(text) && !/\n\s+at /.test(text);
}
