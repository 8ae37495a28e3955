// A real node for the harness cluster: containerd 2.x with two runtime handlers (runc, the default, and runsc
// through gVisor's shim), CNI (tap + host-local: an interface inside each pod's network namespace, nothing on
// the host, no pod traffic possible), locally built images, and a kubelet registered with the API server under
// its own client certificate (system:node:<name>). Everything lives under one directory of the cluster's temp
// dir; stop() kills every process that names that directory, unmounts what is mounted under it, and removes
// the few fixed host paths the kubelet and containerd insist on (only those this run created).
import * as k8s from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';
import { writeClientKubeconfig } from './control-plane.ts';
import type { NodeBinaries } from './node-binaries.ts';
import { buildImageArchive, busyboxRootfs, pauseRootfs } from './oci-image.ts';
import { freePorts } from './ports.ts';
import { logTail, startProcess, type ManagedProcess } from './process.ts';

export const BUSYBOX_IMAGE = 'localhost/e2e/busybox:1.35';
export const PAUSE_IMAGE = 'localhost/e2e/pause:3.10';

export interface NodeOptions {
  name: string;
  labels?: Record<string, string>;
  taints?: k8s.V1Taint[];
  timeoutMs?: number;
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  command: string;
}

export interface SandboxNode {
  name: string;
  dir: string;
  logs: { containerd: string; kubelet: string };
  /** `ctr` against this node's containerd, in the CRI's k8s.io namespace. */
  ctr(args: string[]): CommandResult;
  /** `runsc` with the root containerd's shim uses: what the node's gVisor knows. */
  runsc(args: string[]): CommandResult;
  stop(): Promise<void>;
}

// Host paths the kubelet or containerd use whatever their configuration says (device-plugin socket dir, the
// container log symlinks, CNI's cache, the shim socket dir). One kubelet per machine, hence one sandbox node.
const FIXED_HOST_PATHS = ['/var/lib/kubelet', '/var/log/containers', '/var/lib/cni', '/run/containerd/s', '/run/containerd'];
// cgroup v1 (this machine) or v2: the kubelet creates kubepods (cgroupsPerQOS) under each hierarchy's root.
const CGROUP_ROOT = '/sys/fs/cgroup';

function run(bin: string, args: string[], env?: NodeJS.ProcessEnv): CommandResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000, env: env ?? process.env });
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? r.error.message : ''}`,
    command: [bin, ...args].join(' '),
  };
}

function mustRun(bin: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = run(bin, args, env);
  if (r.status !== 0) throw new Error(`${r.command} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Can this machine run a gVisor sandbox at all? The exact command and its error when not, so a skip can say why.
 * `runsc do` runs a command in a sandbox over the host's root, with no network: the smallest real check.
 */
export function gvisorPreflight(bins: NodeBinaries, dir: string): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'the node suite needs root (containerd, kubelet, runsc)' };
  mkdirSync(dir, { recursive: true });
  const r = run(bins.runsc, [`--root=${join(dir, 'preflight-root')}`, '--network=none', '--platform=systrap', 'do', '/bin/true']);
  rmSync(join(dir, 'preflight-root'), { recursive: true, force: true });
  if (r.status === 0) return { ok: true };
  return { ok: false, why: `\`${r.command}\` exited ${r.status}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` };
}

function containerdConfig(dir: string, bins: NodeBinaries, socket: string): string {
  return `version = 3
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"

[plugins.'io.containerd.cri.v1.runtime']
  # No CAP_SYS_RESOURCE here: never ask for a score below the containerd's own.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${bins.runc}"
        Root = "${dir}/runc-root"
        SystemdCgroup = false
    # The handler RuntimeClass gvisor names (manifests/base/runtime-classes.yaml).
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = "${dir}/runsc.toml"
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${bins['cni-bin-dir']}"]
    conf_dir = "${dir}/cni/net.d"
`;
}

function runscConfig(dir: string, bins: NodeBinaries): string {
  return `# gVisor's shim: which runsc, where its state lives, and runsc's own flags.
binary_name = "${bins.runsc}"
root = "${dir}/runsc-root"

[runsc_config]
  platform = "systrap"
`;
}

// tap + host-local: the interface exists only inside the pod's network namespace; no bridge, route or veth on
// the host. The addresses are never dialled (no test sends traffic to a pod).
function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'e2e-tap',
    plugins: [{ type: 'tap', ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.0.0/24' }]], dataDir: `${dir}/cni/ipam` } }],
  });
}

function kubeletConfig(
  dir: string,
  socket: string,
  ports: { kubelet: number; healthz: number },
  caPath: string,
  taints: k8s.V1Taint[],
): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: '127.0.0.1',
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.healthz,
    containerRuntimeEndpoint: `unix://${socket}`,
    // Only the API server (its kubelet client certificate, from the cluster CA) may call the kubelet.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: caPath } },
    authorization: { mode: 'AlwaysAllow' },
    // This machine: cgroup v1 without systemd as init, swap possibly on, and no CAP_SYS_RESOURCE for negative scores.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    oomScoreAdj: 0,
    // Without pod-level cgroups gVisor pods get no memory limit.
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    registerWithTaints: taints,
    resolvConf: join(dir, 'resolv.conf'),
    podLogsDir: join(dir, 'pod-logs'),
    staticPodPath: '',
    serializeImagePulls: false,
    // A build machine's disk can be nearly full; the suite's pods write nothing. No eviction and no image GC.
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
  });
}

function existingFixedPaths(): Set<string> {
  return new Set(FIXED_HOST_PATHS.filter((p) => existsSync(p)));
}

function cgroupHierarchies(): string[] {
  try {
    const entries = readdirSync(CGROUP_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(CGROUP_ROOT, e.name));
    // cgroup v2 mounted at /sys/fs/cgroup itself has cgroup.controllers there.
    return existsSync(join(CGROUP_ROOT, 'cgroup.controllers')) ? [CGROUP_ROOT] : entries;
  } catch {
    return [];
  }
}

/** Removes a cgroup directory tree bottom-up (cgroupfs directories go with rmdir, once empty of tasks). */
function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return;
  for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(path, e.name));
  try {
    rmdirSync(path);
  } catch {
    // still busy: left for the next run's cleanup, reported by the caller
  }
}

/** The tasks in a cgroup tree (cgroup.procs of every directory in it). */
function tasksUnder(path: string): number[] {
  if (!existsSync(path)) return [];
  const pids: number[] = [];
  const walk = (p: string) => {
    try {
      for (const line of readFileSync(join(p, 'cgroup.procs'), 'utf8').split('\n')) if (line !== '') pids.push(Number(line));
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) walk(join(p, e.name));
    } catch {
      // removed meanwhile
    }
  };
  walk(path);
  return pids;
}

/** Every process whose command line names `needle` (shims, sandboxes, containers started from our dirs). */
function processesNaming(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, deadline: number, procs: ManagedProcess[]): Promise<void> {
  for (;;) {
    if (await check()) return;
    for (const p of procs)
      if (p.hasExited())
        throw new Error(`${p.name} exited (${await p.exited}) while waiting for ${what}; log tail:\n${logTail(p.logPath, 60)}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; logs:\n${procs.map((p) => `--- ${p.name}\n${logTail(p.logPath, 40)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startSandboxNode(cluster: Cluster, bins: NodeBinaries, opts: NodeOptions): Promise<SandboxNode> {
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 120_000);
  const dir = join(cluster.dir, `node-${opts.name}`);
  for (const sub of ['containerd', 'cni/net.d', 'kubelet', 'pod-logs', 'images', 'runsc-root', 'runc-root'])
    mkdirSync(join(dir, sub), { recursive: true });
  const preexisting = existingFixedPaths();
  const cgroupsBefore = new Set(cgroupHierarchies().filter((h) => existsSync(join(h, 'kubepods'))));
  const socket = join(dir, 'containerd/containerd.sock');
  writeFileSync(join(dir, 'containerd/config.toml'), containerdConfig(dir, bins, socket));
  writeFileSync(join(dir, 'runsc.toml'), runscConfig(dir, bins));
  writeFileSync(join(dir, 'cni/net.d/10-tap.conflist'), cniConfig(dir));
  writeFileSync(join(dir, 'resolv.conf'), '');
  const logs = { containerd: join(dir, 'containerd.log'), kubelet: join(dir, 'kubelet.log') };
  const binDirs = [bins.containerd, bins['containerd-shim-runsc-v1'], bins.runc].map((b) => b.slice(0, b.lastIndexOf('/')));
  // containerd finds its shims (containerd-shim-runc-v2, containerd-shim-runsc-v1) on PATH.
  const env = { ...process.env, PATH: `${[...new Set(binDirs)].join(':')}:${process.env['PATH'] ?? ''}` };
  const procs: ManagedProcess[] = [];
  const ctr = (args: string[]) => run(bins.ctr, ['--address', socket, '--namespace', 'k8s.io', ...args], env);
  const runsc = (args: string[]) => run(bins.runsc, [`--root=${dir}/runsc-root/k8s.io`, ...args], env);

  // Synchronous past the process stops, so the same sweep also runs from an 'exit' handler when the test process
  // is interrupted (process.ts kills the children then, but host paths and cgroups would stay behind).
  const sweep = () => {
    const ours = cgroupHierarchies()
      .filter((h) => !cgroupsBefore.has(h))
      .map((h) => join(h, 'kubepods'));
    // Shims and sandboxes outlive containerd by design, and runc's containers outlive their shim: kill whatever
    // names our directory on its command line and whatever is left in the pod cgroups this run created.
    for (let i = 0; i < 10; i++) {
      const pids = new Set([...processesNaming(dir), ...ours.flatMap(tasksUnder)]);
      if (pids.size === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      spawnSync('sleep', ['0.3']);
    }
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
    // A killed task leaves its cgroup a moment later: retry for a few seconds.
    for (let i = 0; i < 20 && ours.some((c) => existsSync(c)); i++) {
      for (const c of ours) removeCgroupTree(c);
      if (ours.some((c) => existsSync(c))) spawnSync('sleep', ['0.25']);
    }
    const left = ours.filter((c) => existsSync(c));
    if (left.length > 0) process.stderr.write(`[e2e] node: could not remove the pod cgroups ${left.join(', ')}\n`);
    for (const p of FIXED_HOST_PATHS) if (!preexisting.has(p)) rmSync(p, { recursive: true, force: true });
  };
  process.prependListener('exit', sweep);
  const cleanUp = async () => {
    for (const p of [...procs].reverse()) await p.stop(15_000);
    sweep();
    process.off('exit', sweep);
  };

  try {
    procs.push(
      startProcess(
        'containerd',
        bins.containerd,
        ['--config', join(dir, 'containerd/config.toml'), '--log-level', 'info'],
        logs.containerd,
        env,
      ),
    );
    await waitFor('containerd', () => run(bins.ctr, ['--address', socket, 'version'], env).status === 0, deadline, procs);

    const images = join(dir, 'images');
    for (const [name, spec] of [
      ['pause', { ref: PAUSE_IMAGE, rootfs: pauseRootfs(bins.pause, join(images, 'pause-rootfs')), entrypoint: ['/pause'] }],
      ['busybox', { ref: BUSYBOX_IMAGE, rootfs: busyboxRootfs(bins.busybox, join(images, 'busybox-rootfs')), cmd: ['sh'] }],
    ] as const) {
      const archive = buildImageArchive(spec, images, name);
      mustRun(bins.ctr, ['--address', socket, '--namespace', 'k8s.io', 'images', 'import', '--platform', 'linux/amd64', archive], env);
    }

    const [kubeletPort, healthzPort] = (await freePorts(2)) as [number, number];
    const kubeconfig = writeClientKubeconfig(cluster, join(dir, 'kubelet.kubeconfig'), `system:node:${opts.name}`, ['system:nodes']);
    writeFileSync(
      join(dir, 'kubelet-config.json'),
      kubeletConfig(dir, socket, { kubelet: kubeletPort, healthz: healthzPort }, cluster.caPath, opts.taints ?? []),
    );
    const labels = Object.entries(opts.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    procs.push(
      startProcess(
        'kubelet',
        bins.kubelet,
        [
          `--config=${join(dir, 'kubelet-config.json')}`,
          `--kubeconfig=${kubeconfig}`,
          `--root-dir=${join(dir, 'kubelet')}`,
          `--cert-dir=${join(dir, 'kubelet/pki')}`,
          `--hostname-override=${opts.name}`,
          // The kubelet refuses a loopback --node-ip; with an external cloud provider it leaves the addresses to
          // whoever sets them (here: the patch below, InternalIP 127.0.0.1, where the API server reaches it).
          '--cloud-provider=external',
          ...(labels ? [`--node-labels=${labels}`] : []),
          '--v=2',
        ],
        logs.kubelet,
        env,
      ),
    );

    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    let node: k8s.V1Node | undefined;
    await waitFor(
      `Node ${opts.name} to register`,
      async () => {
        node = await core.readNode({ name: opts.name }).catch(() => undefined);
        return node !== undefined;
      },
      deadline,
      procs,
    );
    // No cloud controller manager: do its two jobs once, addresses and the uninitialized taint.
    const taints = (node!.spec?.taints ?? []).filter((t) => t.key !== 'node.cloudprovider.kubernetes.io/uninitialized');
    await core.patchNode(
      { name: opts.name, body: [{ op: 'replace', path: '/spec/taints', value: taints }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    await core.patchNodeStatus(
      {
        name: opts.name,
        body: {
          status: {
            addresses: [
              { type: 'InternalIP', address: '127.0.0.1' },
              { type: 'Hostname', address: opts.name },
            ],
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    await waitFor(
      `Node ${opts.name} Ready`,
      async () => {
        const n = await core.readNode({ name: opts.name }).catch(() => undefined);
        return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      },
      deadline,
      procs,
    );
  } catch (err) {
    await cleanUp();
    throw err;
  }
  process.stderr.write(`[e2e] phase node-start: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);

  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    dir,
    logs,
    ctr,
    runsc,
    stop: () => (stopping ??= cleanUp()),
  };
}
