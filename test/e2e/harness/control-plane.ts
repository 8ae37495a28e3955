// The rest of a control plane next to the harness cluster: a real kube-scheduler and kube-controller-manager of the
// same release, each with its own client certificate (system:kube-scheduler, system:kube-controller-manager, as
// the RBAC bootstrap policy expects) and its secure port on loopback. Controllers run with per-controller
// service-account credentials, as kubeadm sets them up, so pods are created by
// system:serviceaccount:kube-system:replicaset-controller and job-controller, exactly what a webhook sees in a
// real cluster.
import * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';
import { issueCert } from './pki.ts';
import { freePorts } from './ports.ts';
import { logTail, startProcess, type ManagedProcess } from './process.ts';

export interface ControlPlane {
  logs: { scheduler: string; controllerManager: string };
  stop(): Promise<void>;
}

export interface ControlPlaneBinaries {
  'kube-scheduler': string;
  'kube-controller-manager': string;
}

/** A kubeconfig file for `user` (and `groups`) with a client certificate from the cluster CA. */
export function writeClientKubeconfig(cluster: Cluster, path: string, user: string, groups: string[] = []): string {
  const cert = issueCert(cluster.ca, { commonName: user, organizations: groups, usage: 'client' });
  const kc = new k8s.KubeConfig();
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: cluster.server, caData: b64(cluster.caPem), skipTLSVerify: false }],
    users: [{ name: user, certData: b64(cert.certPem), keyData: b64(cert.keyPem) }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user }],
    currentContext: 'e2e',
  });
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

async function waitHealthy(proc: ManagedProcess, port: number, deadline: number): Promise<void> {
  // /healthz of both is open to anyone (always-allow-paths), over their self-signed serving certificate.
  for (;;) {
    if (proc.hasExited()) throw new Error(`${proc.name} exited (${await proc.exited}); log tail:\n${logTail(proc.logPath)}`);
    if ((await healthzStatus(port)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not healthy in time; log tail:\n${logTail(proc.logPath)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The secure ports serve self-signed certificates made at start; they are only probed for liveness, on loopback.
function healthzStatus(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpsRequest(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export async function startControlPlane(
  cluster: Cluster,
  bins: ControlPlaneBinaries,
  opts: { timeoutMs?: number } = {},
): Promise<ControlPlane> {
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 60_000);
  const [schedulerPort, kcmPort] = (await freePorts(2)) as [number, number];
  const schedulerKc = writeClientKubeconfig(cluster, join(cluster.dir, 'scheduler.kubeconfig'), 'system:kube-scheduler');
  const kcmKc = writeClientKubeconfig(cluster, join(cluster.dir, 'controller-manager.kubeconfig'), 'system:kube-controller-manager');
  const caKey = join(cluster.dir, 'ca.key');
  writeFileSync(caKey, cluster.ca.keyPem, { mode: 0o600 });
  const logs = { scheduler: join(cluster.dir, 'kube-scheduler.log'), controllerManager: join(cluster.dir, 'kube-controller-manager.log') };

  const common = (kc: string, port: number) => [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    // One of each: no lease to wait for at start-up.
    '--leader-elect=false',
    '--profiling=false',
  ];
  const scheduler = startProcess('kube-scheduler', bins['kube-scheduler'], common(schedulerKc, schedulerPort), logs.scheduler);
  const kcm = startProcess(
    'kube-controller-manager',
    bins['kube-controller-manager'],
    [
      ...common(kcmKc, kcmPort),
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${cluster.serviceAccountKeyPath}`,
      `--root-ca-file=${cluster.caPath}`,
      `--cluster-signing-cert-file=${cluster.caPath}`,
      `--cluster-signing-key-file=${caKey}`,
    ],
    logs.controllerManager,
  );
  try {
    await Promise.all([waitHealthy(scheduler, schedulerPort, deadline), waitHealthy(kcm, kcmPort, deadline)]);
  } catch (err) {
    await Promise.all([scheduler.stop(), kcm.stop()]);
    throw err;
  }
  process.stderr.write(`[e2e] phase control-plane-start: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  return {
    logs,
    stop: async () => {
      await Promise.all([scheduler.stop(), kcm.stop()]);
    },
  };
}
