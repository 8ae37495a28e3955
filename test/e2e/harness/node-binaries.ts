// Where the node suite's binaries are (scheduler, controller-manager, kubelet, containerd, runc, runsc and its
// shim, CNI plugins, and the two static programs its images are made of), building them with
// build-node-binaries.sh when the version-keyed cache lacks them. Same policy as binaries.ts: under CI a
// failure to get them throws; off CI without Go the suite is skipped with a loud banner.
import { fileURLToPath } from 'node:url';
import { isExecutable, resolveBuilt } from './binaries.ts';

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

export function resolveNodeBinaries(): NodeBinaryResolution {
  const r = resolveBuilt({
    script: SCRIPT,
    names: NAMES,
    present: (paths) =>
      NAMES.every((n) => (n === 'cni-bin-dir' ? CNI_PLUGINS.every((p) => isExecutable(`${paths[n]}/${p}`)) : isExecutable(paths[n]))),
    what: 'the node binaries (kubelet, containerd, runc, gVisor, CNI)',
    buildTimeoutMs: BUILD_TIMEOUT_MS,
  });
  return r.skip !== undefined ? { skip: r.skip } : { binaries: r.paths };
}
