// A real, minimal Kubernetes control plane on loopback for e2e tests: etcd plus
// kube-apiserver, nothing else. There is no controller-manager, scheduler or
// kubelet, so pods are admitted and stored but never scheduled or run - which
// is all an admission webhook test needs. Everything (PKI, data, logs) lives in
// a fresh temp dir that stop() removes.
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binaries } from './binaries.ts';
import { createCA, createRsaKey, issueCert, type CertAuthority } from './pki.ts';
import { freePorts } from './ports.ts';
import { logTail, startProcess, type ManagedProcess } from './process.ts';

export { createNamespace } from './namespace.ts';

export interface ClusterOptions {
  binaries: Binaries;
  /** Budget for etcd + kube-apiserver to become ready, per attempt. Default 120 s. */
  startTimeoutMs?: number;
  /** Keep the temp dir (logs, certs, etcd data) after stop(). Default: env SANDBOX_ADMISSION_E2E_KEEP=1. */
  keepDir?: boolean;
  /** Appended to kube-apiserver's arguments; a repeated flag overrides the default. */
  extraApiserverArgs?: string[];
  /**
   * Let the API server reach a kubelet on loopback (exec, logs): a kubelet client certificate, and the node's
   * InternalIP preferred (the node suite publishes 127.0.0.1 there; kubelets refuse a loopback --node-ip).
   */
  kubeletClient?: boolean;
}

export interface Cluster {
  /** Admin (CN=admin, O=system:masters) client-certificate auth, server CA verified. */
  kubeConfig: k8s.KubeConfig;
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM of the CA that signed the apiserver's serving cert and the client certs. */
  caPem: string;
  /** The cluster CA including its key, to issue more certificates (e.g. a webhook's). */
  ca: CertAuthority;
  dir: string;
  /** The same admin kubeconfig as a file, for kubectl while debugging. */
  kubeconfigPath: string;
  /** The service-account signing key (PEM file) and the CA file: what a kube-controller-manager needs. */
  serviceAccountKeyPath: string;
  caPath: string;
  logs: { etcd: string; apiserver: string };
  stop(): Promise<void>;
}

const SERVICE_CIDR = '10.0.0.0/24';
// Explicit so a version bump that renames one fails loudly at startup. All are
// default-on in v1.37; ResourceQuota, LimitRanger, Priority, PodSecurity etc.
// stay at their defaults and need no controller to admit a pod.
const ADMISSION_PLUGINS = [
  'NamespaceLifecycle',
  'ServiceAccount',
  'RuntimeClass',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
];

function phase(name: string, startMs: number): void {
  process.stderr.write(`[e2e] phase ${name}: ${((Date.now() - startMs) / 1000).toFixed(1)}s\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  url: string;
  tls?: { ca: string; cert: string; key: string };
}

/** Status code of a GET, or undefined if the connection failed. */
function probe(p: Probe): Promise<number | undefined> {
  return new Promise((resolve) => {
    const opts = { timeout: 2000, ...(p.tls ?? {}) };
    const req = (p.tls ? httpsRequest : httpRequest)(p.url, opts, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

class StartError extends Error {
  retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

async function waitReady(p: Probe, procs: ManagedProcess[], deadline: number, what: string): Promise<void> {
  for (;;) {
    if ((await probe(p)) === 200) return;
    for (const proc of procs) {
      if (proc.hasExited()) {
        const tail = logTail(proc.logPath);
        // A lost race for a port picked by freePorts() is worth another attempt.
        const retryable = /address already in use/i.test(tail);
        throw new StartError(`${proc.name} exited (${await proc.exited}) while waiting for ${what}; log tail:\n${tail}`, retryable);
      }
    }
    if (Date.now() > deadline) {
      const tails = procs.map((proc) => `--- ${proc.name} (${proc.logPath}) ---\n${logTail(proc.logPath)}`);
      throw new StartError(`timed out waiting for ${what} (${p.url})\n${tails.join('\n')}`, false);
    }
    await sleep(250);
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const attempts = 3;
  for (let i = 1; ; i++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!(err instanceof StartError && err.retryable && i < attempts)) throw err;
      process.stderr.write(`[e2e] port taken while starting, retrying (${i}/${attempts})\n`);
    }
  }
}

async function startOnce(opts: ClusterOptions): Promise<Cluster> {
  const t0 = Date.now();
  const deadline = t0 + (opts.startTimeoutMs ?? 120_000);
  const keepDir = opts.keepDir ?? process.env['SANDBOX_ADMISSION_E2E_KEEP'] === '1';
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-e2e-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (!keepDir) process.on('exit', removeDir);
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
  const server = `https://127.0.0.1:${apiPort}`;

  // PKI: one CA signs the serving cert and the admin client cert, and is also
  // the --client-ca-file, so the apiserver trusts exactly our admin identity.
  const ca = createCA();
  const serving = issueCert(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const admin = issueCert(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
  const saKey = createRsaKey();
  const caFile = file('ca.crt', ca.certPem);
  phase('cluster-pki', t0);

  const logs = { etcd: join(dir, 'etcd.log'), apiserver: join(dir, 'kube-apiserver.log') };
  const procs: ManagedProcess[] = [];
  const stopAll = async () => {
    // apiserver first, so it does not log etcd connection errors while stopping.
    for (const p of [...procs].reverse()) await p.stop();
  };

  try {
    const tEtcd = Date.now();
    const etcdClient = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    procs.push(
      startProcess(
        'etcd',
        opts.binaries.etcd,
        [
          '--name=e2e',
          `--data-dir=${join(dir, 'etcd-data')}`,
          `--listen-client-urls=${etcdClient}`,
          `--advertise-client-urls=${etcdClient}`,
          // A single member still needs a peer URL; it is bound to loopback only.
          `--listen-peer-urls=${etcdPeer}`,
          `--initial-advertise-peer-urls=${etcdPeer}`,
          `--initial-cluster=e2e=${etcdPeer}`,
          '--initial-cluster-state=new',
          // Throwaway data: skipping fsync makes every write much faster.
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        logs.etcd,
      ),
    );
    await waitReady({ url: `${etcdClient}/health` }, procs, deadline, 'etcd /health');
    phase('etcd-start', tEtcd);

    const tApi = Date.now();
    const args = [
      `--etcd-servers=${etcdClient}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--advertise-address=127.0.0.1',
      // The endpoint reconciler publishes the advertise address as the
      // `kubernetes` Service's endpoint and refuses loopback addresses (fatal
      // since ~v1.3x). Nothing in-cluster dials it here, so do not publish.
      '--endpoint-reconciler-type=none',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--client-ca-file=${caFile}`,
      `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`,
      `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
      `--service-account-key-file=${file('sa.pub', saKey.publicKeyPem)}`,
      `--service-account-signing-key-file=${file('sa.key', saKey.privateKeyPem)}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      // Node authorizer is harmless without nodes and keeps the setup realistic.
      '--authorization-mode=Node,RBAC',
      `--enable-admission-plugins=${ADMISSION_PLUGINS.join(',')}`,
      // Tests may create privileged pods: a sandboxing policy must see them.
      '--allow-privileged=true',
      '--profiling=false',
      ...(opts.kubeletClient ? kubeletClientArgs(ca, file) : []),
      ...(opts.extraApiserverArgs ?? []),
    ];
    procs.push(startProcess('kube-apiserver', opts.binaries.kubeApiserver, args, logs.apiserver));
    const tls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await waitReady({ url: `${server}/readyz`, tls }, procs, deadline, 'kube-apiserver /readyz');
    phase('apiserver-start', tApi);
  } catch (err) {
    await stopAll();
    if (!keepDir) {
      removeDir();
      process.off('exit', removeDir);
    }
    throw err;
  }

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'e2e', server, caData: b64(ca.certPem), skipTLSVerify: false }],
    users: [{ name: 'admin', certData: b64(admin.certPem), keyData: b64(admin.keyPem) }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: 'admin' }],
    currentContext: 'e2e',
  });
  const kubeconfigPath = file('kubeconfig', kubeConfig.exportConfig());
  phase('cluster-start', t0);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const tStop = Date.now();
      await stopAll();
      if (keepDir) {
        process.stderr.write(`[e2e] kept cluster dir ${dir}\n`);
      } else {
        removeDir();
        process.off('exit', removeDir);
      }
      phase('cluster-stop', tStop);
    })();
    return stopping;
  };

  return {
    kubeConfig,
    server,
    caPem: ca.certPem,
    ca,
    dir,
    kubeconfigPath,
    serviceAccountKeyPath: join(dir, 'sa.key'),
    caPath: caFile,
    logs,
    stop,
  };
}

function kubeletClientArgs(ca: CertAuthority, file: (name: string, content: string) => string): string[] {
  const client = issueCert(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' });
  return [
    `--kubelet-client-certificate=${file('kubelet-client.crt', client.certPem)}`,
    `--kubelet-client-key=${file('kubelet-client.key', client.keyPem)}`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}
