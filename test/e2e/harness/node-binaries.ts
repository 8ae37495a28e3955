// Where the node suite's binaries are (scheduler, controller-manager, kubelet, containerd, runc, runsc and its
// shim, CNI plugins, and the two static programs its images are made of), building them with
// build-node-binaries.sh when the version-keyed cache lacks them. Same policy as binaries.ts: under CI a
// failure to get them throws; off CI without Go the suite is skipped with a loud banner.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasGo, isCI, isExecutable, loud, parseScriptPaths } from './binaries.ts';

const SCRIPT = fileURLToPath(new URL('./build-node-binaries.sh', import.meta.url));
const BUILD_TIMEOUT_MS = 50 * 60 * 1000; // cold: kubelet and friends, containerd, runc, gVisor on 2 cores

const NAMES = [
  'kube-scheduler',
  'kube-controller-manager',
  'kubelet',
  'containerd',
  'ctr',
  'containerd-shim-runc-v2',
  'runc',
  'runsc',
  'containerd-shim-runsc-v1',
  'cni-bin-dir',
  'pause',
  'busybox',
] as const;

export type NodeBinaries = Record<(typeof NAMES)[number], string>;
export type NodeBinaryResolution = { binaries: NodeBinaries; skip?: undefined } | { binaries?: undefined; skip: string };

const CNI_PLUGINS = ['tap', 'host-local', 'loopback'];

function allPresent(paths: NodeBinaries): boolean {
  return NAMES.every((n) => (n === 'cni-bin-dir' ? CNI_PLUGINS.every((p) => isExecutable(`${paths[n]}/${p}`)) : isExecutable(paths[n])));
}

function paths(stdout: string): NodeBinaries {
  return parseScriptPaths(SCRIPT, stdout, NAMES);
}

function ensureNodeBinaries(): NodeBinaries {
  const cached = paths(execFileSync('bash', [SCRIPT, '--paths'], { encoding: 'utf8' }));
  if (allPresent(cached)) return cached;
  const start = Date.now();
  process.stderr.write(`[e2e] node binaries missing, running ${SCRIPT}\n`);
  const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: BUILD_TIMEOUT_MS });
  if (r.status !== 0) {
    throw new Error(`build-node-binaries.sh failed (status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''})`);
  }
  process.stderr.write(`[e2e] phase node-binary-build: ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  return paths(r.stdout);
}

export function resolveNodeBinaries(): NodeBinaryResolution {
  if (!isCI() && !hasGo()) {
    try {
      const cached = paths(execFileSync('bash', [SCRIPT, '--paths'], { encoding: 'utf8' }));
      if (allPresent(cached)) return { binaries: cached };
    } catch {
      // fall through to the skip
    }
    const skip = 'node e2e: SKIPPED - no Go toolchain to build the kubelet, containerd and gVisor (install Go >= 1.26 or run under CI)';
    loud(skip);
    return { skip };
  }
  try {
    return { binaries: ensureNodeBinaries() };
  } catch (err) {
    loud(`node e2e: cannot get the node binaries: ${(err as Error).message}`);
    throw err;
  }
}
