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

function parsePaths(stdout: string): Binaries {
  const p = parseScriptPaths(SCRIPT, stdout, API_NAMES);
  return { kubeApiserver: p['kube-apiserver'], kubectl: p.kubectl, etcd: p.etcd };
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function allExecutable(paths: Binaries): boolean {
  return isExecutable(paths.kubeApiserver) && isExecutable(paths.kubectl) && isExecutable(paths.etcd);
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

/** Paths of the cached binaries; builds them first if missing. Throws on failure. */
export function ensureBinaries(): Binaries {
  const paths = parsePaths(execFileSync('bash', [SCRIPT, '--paths'], { encoding: 'utf8' }));
  if (allExecutable(paths)) return paths;

  const start = Date.now();
  process.stderr.write(`[e2e] binaries missing, running ${SCRIPT} (a cold build takes 10-25 min)\n`);
  const r = spawnSync('bash', [SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: BUILD_TIMEOUT_MS,
  });
  if (r.status !== 0) {
    throw new Error(`build-binaries.sh failed (status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''})`);
  }
  process.stderr.write(`[e2e] phase binary-build: ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  return parsePaths(r.stdout);
}

/**
 * The binaries, or a skip reason (only off CI, only when Go is missing).
 * Use as: `const bins = resolveBinaries(); describe('x', { skip: bins.skip ?? false }, ...)`.
 */
export function resolveBinaries(): BinaryResolution {
  if (!isCI() && !hasGo()) {
    try {
      const paths = parsePaths(execFileSync('bash', [SCRIPT, '--paths'], { encoding: 'utf8' }));
      if (allExecutable(paths)) return { binaries: paths };
    } catch {
      // fall through to the skip
    }
    const skip = 'e2e: SKIPPED - no Go toolchain to build kube-apiserver/kubectl/etcd (install Go >= 1.26 or run under CI)';
    loud(skip);
    return { skip };
  }
  try {
    return { binaries: ensureBinaries() };
  } catch (err) {
    loud(`e2e: cannot get kube-apiserver/kubectl/etcd binaries: ${(err as Error).message}`);
    throw err;
  }
}
