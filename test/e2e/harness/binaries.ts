// Where the e2e suite's kube-apiserver, kubectl and etcd binaries are, building
// them with build-binaries.sh when the version-keyed cache lacks them.
//
// Policy: under CI (CI set, not "false"/"0") any failure to get the binaries
// throws, so the suite fails loudly instead of silently testing nothing. On a
// developer machine without Go (and no cached binaries) the suite is skipped,
// with a loud message; a failed build with Go present is still an error.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Binaries {
  kubeApiserver: string;
  /** kubectl of the same release: `kubectl kustomize` renders manifests/, `kubectl apply --server-side` applies them. */
  kubectl: string;
  etcd: string;
}

export type BinaryResolution = { binaries: Binaries; skip?: undefined } | { binaries?: undefined; skip: string };

const SCRIPT = fileURLToPath(new URL('./build-binaries.sh', import.meta.url));
const BUILD_TIMEOUT_MS = 45 * 60 * 1000; // a cold build is 10-25 min on 2 cores

export function isCI(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The `name=<path>` lines a build script prints, checked for the names it must print. */
export function parseScriptPaths<K extends string>(script: string, stdout: string, names: readonly K[]): Record<K, string> {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const missing = names.filter((n) => !kv.get(n));
  if (missing.length > 0) throw new Error(`${script} printed no path for ${missing.join(', ')}:\n${stdout}`);
  return Object.fromEntries(names.map((n) => [n, kv.get(n)!])) as Record<K, string>;
}

const API_NAMES = ['kube-apiserver', 'kubectl', 'etcd'] as const;

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function hasGo(): boolean {
  const r = spawnSync('go', ['version'], {
    env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/local/go/bin` },
    stdio: 'ignore',
  });
  return r.status === 0;
}

export function loud(msg: string): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${msg}\n${bar}\n\n`);
}

/** A build script of this folder: what it prints paths for, and how to tell that they are all there. */
export interface BuildScript<K extends string> {
  script: string;
  names: readonly K[];
  present(paths: Record<K, string>): boolean;
  /** For messages: what it builds, e.g. "kube-apiserver/kubectl/etcd". */
  what: string;
  buildTimeoutMs: number;
}

/** Paths of the cached binaries; builds them first if missing. Throws on failure. */
function ensureBuilt<K extends string>(b: BuildScript<K>): Record<K, string> {
  const paths = parseScriptPaths(b.script, execFileSync('bash', [b.script, '--paths'], { encoding: 'utf8' }), b.names);
  if (b.present(paths)) return paths;
  const start = Date.now();
  process.stderr.write(`[e2e] ${b.what} missing, running ${b.script} (a cold build takes tens of minutes)\n`);
  const r = spawnSync('bash', [b.script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: b.buildTimeoutMs });
  if (r.status !== 0) {
    throw new Error(`${b.script} failed (status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''})`);
  }
  process.stderr.write(`[e2e] phase binary-build (${b.what}): ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  return parseScriptPaths(b.script, r.stdout, b.names);
}

/** The binaries a build script makes, or a skip reason (only off CI, only when Go is missing and nothing is cached). */
export function resolveBuilt<K extends string>(
  b: BuildScript<K>,
): { paths: Record<K, string>; skip?: undefined } | { paths?: undefined; skip: string } {
  if (!isCI() && !hasGo()) {
    try {
      const paths = parseScriptPaths(b.script, execFileSync('bash', [b.script, '--paths'], { encoding: 'utf8' }), b.names);
      if (b.present(paths)) return { paths };
    } catch {
      // fall through to the skip
    }
    const skip = `e2e: SKIPPED - no Go toolchain to build ${b.what} (install Go >= 1.26 or run under CI)`;
    loud(skip);
    return { skip };
  }
  try {
    return { paths: ensureBuilt(b) };
  } catch (err) {
    loud(`e2e: cannot get ${b.what}: ${(err as Error).message}`);
    throw err;
  }
}

const API_SCRIPT: BuildScript<(typeof API_NAMES)[number]> = {
  script: SCRIPT,
  names: API_NAMES,
  present: (p) => API_NAMES.every((n) => isExecutable(p[n])),
  what: 'kube-apiserver/kubectl/etcd',
  buildTimeoutMs: BUILD_TIMEOUT_MS,
};

/**
 * The binaries, or a skip reason (only off CI, only when Go is missing).
 * Use as: `const bins = resolveBinaries(); describe('x', { skip: bins.skip ?? false }, ...)`.
 */
export function resolveBinaries(): BinaryResolution {
  const r = resolveBuilt(API_SCRIPT);
  if (r.skip !== undefined) return { skip: r.skip };
  return { binaries: { kubeApiserver: r.paths['kube-apiserver'], kubectl: r.paths.kubectl, etcd: r.paths.etcd } };
}
