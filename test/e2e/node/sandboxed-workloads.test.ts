// From admitted to running, with every part real: kube-apiserver and etcd, kube-scheduler and
// kube-controller-manager, the webhook as its own process with the shipped fail-open + ValidatingAdmissionPolicy
// flavour (manifests/), and one real node: a kubelet on containerd 2.x with the runsc handler (gVisor's shim) next to
// runc, labelled and tainted like a GKE Sandbox node. A second, ordinary node is an API-only Node object (one
// kubelet per machine). Developers only write ordinary Deployments, Jobs and CronJobs; the controllers create the
// pods, the webhook sandboxes them, the scheduler places them and the kubelet runs them. Each claim is checked
// where it cannot be faked: the API (runtimeClassName, nodeName, phase), containerd's own record of the runtime
// behind each container, runsc's list of sandboxes, and what the kernel inside the pod says.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../harness/api-assertions.ts';
import { createApiOnlyNode, type ApiOnlyNode } from '../harness/api-only-node.ts';
import { isCI, loud, resolveBinaries } from '../harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from '../harness/cluster.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { forTestCluster, renderKustomization } from '../harness/manifests.ts';
import { resolveNodeBinaries } from '../harness/node-binaries.ts';
import { BUSYBOX_IMAGE, gvisorPreflight, startSandboxNode, type SandboxNode } from '../harness/node.ts';
import { freePort } from '../harness/ports.ts';
import { logTail } from '../harness/process.ts';
import { startWebhookProcess, type WebhookProcess } from '../harness/webhook.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const bins = resolveBinaries();
const nodeBins = bins.skip ? { skip: bins.skip } : resolveNodeBinaries();

const SANDBOX_NODE = 'sandbox-node';
const REGULAR_NODE = 'regular-node';
const GKE_SANDBOX = { key: 'sandbox.gke.io/runtime', value: 'gvisor' };
const RUNSC = 'io.containerd.runsc.v1';
const RUNC = 'io.containerd.runc.v2';

function skipReason(): string | false {
  if (bins.skip) return bins.skip;
  if (nodeBins.skip) return nodeBins.skip;
  const check = gvisorPreflight(nodeBins.binaries!, join(process.env['TMPDIR'] ?? '/tmp', `sandbox-admission-preflight-${process.pid}`));
  if (check.ok) return false;
  const why = `node e2e: SKIPPED - this machine cannot run a gVisor sandbox: ${check.why}`;
  loud(why);
  return why;
}

const skip = skipReason();

/** A busybox container that prints what its kernel says, then stays up. */
function probeContainer(extra: Partial<k8s.V1Container> = {}): k8s.V1Container {
  return {
    name: 'app',
    image: BUSYBOX_IMAGE,
    imagePullPolicy: 'Never',
    command: ['sh', '-c', 'dmesg | head -n 3; echo "kernel=$(uname -r)"; exec sleep 3600'],
    ...extra,
  };
}

function deployment(name: string, labels: Record<string, string>, replicas: number, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { deployment: name } },
      template: {
        metadata: { labels: { deployment: name, ...labels } },
        spec: { containers: [probeContainer()], terminationGracePeriodSeconds: 1, ...spec },
      },
    },
  };
}

describe('untrusted workloads run in gVisor on a real node', { skip }, () => {
  let cluster: Cluster;
  let controlPlane: ControlPlane | undefined;
  let node: SandboxNode | undefined;
  let regularNode: ApiOnlyNode | undefined;
  let webhook: WebhookProcess | undefined;
  let webhookPort: number;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let batch: k8s.BatchV1Api;
  const policyYaml = readFileSync(join(REPO, 'manifests/base/policy.yaml'), 'utf8');

  const startWebhook = async () =>
    startWebhookProcess({
      dir: cluster.dir,
      kubeconfigPath: cluster.kubeconfigPath,
      policyYaml,
      port: webhookPort,
      ...(webhook ? { serving: webhook.serving } : {}),
    });

  const podsOf = async (namespace: string, selector: string) =>
    (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;

  async function waitForPods(
    namespace: string,
    selector: string,
    count: number,
    ok: (p: k8s.V1Pod) => boolean,
    what: string,
    timeoutMs = 120_000,
  ): Promise<k8s.V1Pod[]> {
    let last: k8s.V1Pod[] = [];
    try {
      await waitFor(
        async () => {
          last = await podsOf(namespace, selector);
          return last.filter(ok).length >= count;
        },
        timeoutMs,
        500,
      );
    } catch {
      const summary = last.map(
        (p) =>
          `${p.metadata?.name}: ${p.status?.phase} on ${p.spec?.nodeName ?? '-'} ${JSON.stringify(p.status?.containerStatuses?.map((c) => c.state))}`,
      );
      const events = (await core.listNamespacedEvent({ namespace })).items.map((e) => `${e.involvedObject.name} ${e.reason}: ${e.message}`);
      assert.fail(
        `${what}: wanted ${count} pod(s) matching ${selector}\npods:\n${summary.join('\n')}\nevents:\n${events.join('\n')}\nkubelet log:\n${node ? logTail(node.logs.kubelet, 30) : '(no node)'}`,
      );
    }
    return last.filter(ok);
  }

  const running = (p: k8s.V1Pod) => p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready === true);

  async function events(namespace: string, reason: string, kind?: string): Promise<k8s.CoreV1Event[]> {
    return (await core.listNamespacedEvent({ namespace })).items.filter(
      (e) => e.reason === reason && (kind === undefined || e.involvedObject.kind === kind),
    );
  }

  /** The runtime containerd recorded for a pod's first container: the node's own word, not the pod's. */
  function containerRuntime(pod: k8s.V1Pod): string {
    const id = (pod.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
    assert.ok(id, `${pod.metadata?.name} has no container ID yet`);
    const r = node!.ctr(['containers', 'info', id]);
    assert.equal(r.status, 0, `${r.command}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { Runtime: { Name: string } }).Runtime.Name;
  }

  /** The container's output once its last expected line is there: a container can be ready before it has written. */
  async function logsOf(pod: k8s.V1Pod, complete = /kernel=|sandboxed by gVisor/): Promise<string> {
    const read = () => core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace! });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const log = await read();
      if (complete.test(log) || Date.now() > deadline) return log;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  function kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(bins.binaries!.kubectl, [`--kubeconfig=${cluster.kubeconfigPath}`, ...args], {
      encoding: 'utf8',
      input,
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  before(async () => {
    const nb = nodeBins.binaries!;
    cluster = await startCluster({ binaries: bins.binaries!, kubeletClient: true });
    core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    batch = cluster.kubeConfig.makeApiClient(k8s.BatchV1Api);
    controlPlane = await startControlPlane(cluster, nb);

    // The recommended install (manifests/: fail-open pod webhooks behind the generated ValidatingAdmissionPolicies),
    // minus the webhook's own Deployment: it runs as a host process on loopback, where the API server can reach it.
    webhookPort = await freePort();
    webhook = await startWebhook();
    const wanted = new Set([
      'RuntimeClass',
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    const objects = forTestCluster(renderKustomization(bins.binaries!.kubectl, '.'), webhookPort, webhook.caPem).filter((o) =>
      wanted.has(o.kind ?? ''),
    );
    const client = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    for (const o of objects) await client.create(o);
    await cluster.kubeConfig.makeApiClient(k8s.NodeV1Api).createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } });

    node = await startSandboxNode(cluster, nb, {
      name: SANDBOX_NODE,
      labels: { [GKE_SANDBOX.key]: GKE_SANDBOX.value },
      taints: [{ ...GKE_SANDBOX, effect: 'NoSchedule' }],
    });
    // The ordinary pool: a Node object the scheduler sees as Ready, with no kubelet behind it.
    regularNode = await createApiOnlyNode(cluster.kubeConfig, REGULAR_NODE);
    await waitFor(
      async () => {
        const nodes = (await core.listNode()).items;
        return nodes.length === 2 && nodes.every((n) => !(n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready'));
      },
      60_000,
      500,
    );

    await createNamespace(cluster.kubeConfig, 'apps');
    await createNamespace(cluster.kubeConfig, 'governed', { 'sandbox-admission.io/runtime': 'gvisor' });
    await createNamespace(cluster.kubeConfig, 'kata-team', { 'sandbox-admission.io/runtime': 'kata' });
    // The ServiceAccount token volume needs kube-root-ca.crt, published by the controller-manager.
    for (const namespace of ['apps', 'governed', 'kata-team']) {
      await waitFor(
        async () => (await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace }).catch(() => undefined)) !== undefined,
        30_000,
      );
    }
    // Started now, checked last: a CronJob fires on the minute.
    await batch.createNamespacedCronJob({
      namespace: 'governed',
      body: {
        metadata: { name: 'nightly' },
        spec: {
          schedule: '* * * * *',
          concurrencyPolicy: 'Forbid',
          jobTemplate: {
            spec: {
              backoffLimit: 0,
              template: { metadata: { labels: { cronjob: 'nightly' } }, spec: { restartPolicy: 'Never', containers: [jobContainer()] } },
            },
          },
        },
      },
    });
  });

  after(async () => {
    // The node first: its pods, shims and sandboxes go with it, then whatever talks to the API server.
    regularNode?.stop();
    await node?.stop();
    await controlPlane?.stop();
    await webhook?.stop();
    await cluster?.stop();
  });

  it('a Deployment of app=untrusted pods is sandboxed, placed on the gVisor node and run by runsc', async () => {
    await apps.createNamespacedDeployment({ namespace: 'apps', body: deployment('untrusted', { app: 'untrusted' }, 2) });
    const pods = await waitForPods('apps', 'deployment=untrusted', 2, running, 'untrusted pods Running');
    const sandboxes = node!.runsc(['list', '--format=json']);
    assert.equal(sandboxes.status, 0, `${sandboxes.command}: ${sandboxes.stderr}`);
    const known = (JSON.parse(sandboxes.stdout || '[]') as Array<{ id: string }>).map((s) => s.id);
    for (const pod of pods) {
      assert.equal(pod.spec?.runtimeClassName, 'gvisor');
      assert.equal(pod.spec?.nodeName, SANDBOX_NODE);
      assert.equal(pod.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');
      assert.equal(containerRuntime(pod), RUNSC, `containerd should run ${pod.metadata?.name} with the runsc shim`);
      const id = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, '');
      assert.ok(known.includes(id), `runsc list should know container ${id}; it lists ${known.join(', ')}`);
      const log = await logsOf(pod);
      assert.match(log, /Starting gVisor/, `dmesg inside ${pod.metadata?.name} should print gVisor's banner:\n${log}`);
      assert.doesNotMatch(log, new RegExp(`kernel=${release().replace(/[.+]/g, '\\$&')}\\b`), 'the pod must not see the host kernel');
    }
  });

  it('an ordinary Deployment never lands on the sandbox node; a pod outside every rule that tolerates it runs there under runc', async () => {
    await apps.createNamespacedDeployment({ namespace: 'apps', body: deployment('ordinary', { app: 'web' }, 2) });
    const bound = await waitForPods('apps', 'deployment=ordinary', 2, (p) => p.spec?.nodeName !== undefined, 'ordinary pods bound');
    for (const pod of bound) {
      assert.equal(pod.spec?.nodeName, REGULAR_NODE, `${pod.metadata?.name} must not go to the tainted sandbox node`);
      assert.equal(pod.spec?.runtimeClassName, undefined);
    }

    // As the GKE Sandbox guide shows: a regular pod on a sandbox node when it asks for it itself.
    await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: deployment('on-sandbox-node', { app: 'tools' }, 1, {
        tolerations: [{ ...GKE_SANDBOX, operator: 'Equal', effect: 'NoSchedule' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: GKE_SANDBOX.key, operator: 'In', values: [GKE_SANDBOX.value] }] }],
            },
          },
        },
      }),
    });
    const [pod] = await waitForPods('apps', 'deployment=on-sandbox-node', 1, running, 'runc pod Running on the sandbox node');
    assert.equal(pod!.spec?.nodeName, SANDBOX_NODE);
    assert.equal(pod!.spec?.runtimeClassName, undefined);
    assert.equal(containerRuntime(pod!), RUNC);
    const log = await logsOf(pod!);
    assert.doesNotMatch(log, /gVisor/);
    assert.match(log, new RegExp(`kernel=${release().replace(/[.+]/g, '\\$&')}`), 'under runc the pod sees the host kernel');
    // Both handlers side by side on one node.
    const sandboxed = await podsOf('apps', 'deployment=untrusted');
    assert.ok(sandboxed.some((p) => p.spec?.nodeName === SANDBOX_NODE && containerRuntime(p) === RUNSC));
  });

  it('a template asking for runc in a governed namespace: refused at kubectl apply, and in the ReplicaSet events once governance comes later', async () => {
    const manifest = (replicas: number) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        ...deployment('wants-runc', { app: 'web' }, replicas, { runtimeClassName: 'runc' }),
      });
    // Early feedback: the template is judged when the developer applies it, with the message its pods would get.
    const refused = kubectl(['apply', '-n', 'governed', '-f', '-'], manifest(1));
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /the pods of Deployment\/wants-runc would be rejected: the pod asks for runtimeClassName "runc"/);

    // The same Deployment where it already ran before the namespace was governed: its next rollout or scale-up
    // meets the pod webhook, and the developer finds the reason where they look, in the ReplicaSet's events.
    await createNamespace(cluster.kubeConfig, 'team-late');
    await waitFor(
      async () =>
        (await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'team-late' }).catch(() => undefined)) !== undefined,
      30_000,
    );
    const created = kubectl(['apply', '-n', 'team-late', '-f', '-'], manifest(0));
    assert.equal(created.status, 0, created.stderr);
    await core.patchNamespace(
      { name: 'team-late', body: { metadata: { labels: { 'sandbox-admission.io/runtime': 'gvisor' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const scaled = kubectl(['scale', '-n', 'team-late', 'deployment/wants-runc', '--replicas=1']);
    assert.equal(scaled.status, 0, scaled.stderr);
    const failed = await eventually(() => events('team-late', 'FailedCreate', 'ReplicaSet'), 60_000);
    assert.match(
      failed[0]!.message ?? '',
      /admission webhook "mutate\.sandbox-admission\.io" denied the request: sandbox-admission denied this pod: the pod asks for runtimeClassName "runc"/,
    );
    const described = kubectl(['describe', 'rs', '-n', 'team-late', failed[0]!.involvedObject.name!]);
    assert.equal(described.status, 0, described.stderr);
    assert.match(
      described.stdout,
      /FailedCreate.*sandbox-admission denied this pod: the pod asks for runtimeClassName "runc"/s,
      'kubectl describe rs shows a developer why',
    );
    assert.equal((await podsOf('team-late', 'deployment=wants-runc')).length, 0);
  });

  it('a Job in a governed namespace runs its pod under runsc to completion', async () => {
    await batch.createNamespacedJob({
      namespace: 'governed',
      body: {
        metadata: { name: 'report' },
        spec: {
          backoffLimit: 0,
          template: { metadata: { labels: { job: 'report' } }, spec: { restartPolicy: 'Never', containers: [jobContainer()] } },
        },
      },
    });
    await waitFor(
      async () => ((await batch.readNamespacedJob({ name: 'report', namespace: 'governed' })).status?.succeeded ?? 0) === 1,
      120_000,
      500,
    );
    const [pod] = await podsOf('governed', 'job=report');
    assert.equal(pod!.spec?.runtimeClassName, 'gvisor');
    assert.equal(pod!.spec?.nodeName, SANDBOX_NODE);
    assert.match(await logsOf(pod!), /sandboxed by gVisor/);
    assert.equal(containerRuntime(pod!), RUNSC);
  });

  it('the kata profile with no kata node: overhead added after the webhook, the pod waits with a FailedScheduling that names the selector', async () => {
    await apps.createNamespacedDeployment({ namespace: 'kata-team', body: deployment('vm-isolated', { app: 'api' }, 1) });
    const [pod] = await waitForPods('kata-team', 'deployment=vm-isolated', 1, () => true, 'kata pod created');
    assert.equal(pod!.spec?.runtimeClassName, 'kata');
    // The RuntimeClass admission plugin runs after the mutating webhooks: overhead and the class's nodeSelector.
    assert.deepEqual(pod!.spec?.overhead, { cpu: '250m', memory: '160Mi' });
    assert.equal(pod!.spec?.nodeSelector?.['katacontainers.io/kata-runtime'], 'true');
    const failed = await eventually(() => events('kata-team', 'FailedScheduling'), 60_000);
    assert.match(failed[0]!.message ?? '', /didn't match Pod's node affinity\/selector/);
    const now = await core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: 'kata-team' });
    assert.equal(now.status?.phase, 'Pending');
    assert.equal(now.spec?.nodeName, undefined);
    assert.equal((await webhook!.get('/healthz')).status, 200, 'nothing crashed');
  });

  it('an outage with the shipped fail-open flavour: no pod runs on runc, and the controller’s retry sandboxes them once the webhook is back', async () => {
    await webhook!.stop();
    await apps.createNamespacedDeployment({ namespace: 'apps', body: deployment('during-outage', { app: 'untrusted' }, 1) });
    const refused = await eventually(
      async () => (await events('apps', 'FailedCreate', 'ReplicaSet')).filter((e) => e.involvedObject.name?.startsWith('during-outage-')),
      60_000,
    );
    assert.match(
      refused[0]!.message ?? '',
      /ValidatingAdmissionPolicy 'sandbox-admission-enforce'.*rule "untrusted-apps" requires a sandbox runtime/,
    );
    assert.equal((await podsOf('apps', 'deployment=during-outage')).length, 0, 'no pod of it may exist while the webhook is down');

    webhook = await startWebhook();
    const [pod] = await waitForPods('apps', 'deployment=during-outage', 1, running, 'pod created by the retry and Running', 180_000);
    assert.equal(pod!.spec?.runtimeClassName, 'gvisor');
    assert.equal(pod!.spec?.nodeName, SANDBOX_NODE);
    assert.equal(containerRuntime(pod!), RUNSC);
  });

  it('a CronJob in a governed namespace: its Job’s pod runs under runsc and completes', async () => {
    const jobs = await eventually(
      async () =>
        (await batch.listNamespacedJob({ namespace: 'governed' })).items.filter(
          (j) => j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob') && (j.status?.succeeded ?? 0) >= 1,
        ),
      150_000,
    );
    const name = jobs[0]!.metadata!.name!;
    const [pod] = (await podsOf('governed', 'cronjob=nightly')).filter((p) => p.metadata?.labels?.['job-name'] === name);
    assert.ok(pod, `no pod of Job ${name}`);
    assert.equal(pod.spec?.runtimeClassName, 'gvisor');
    assert.equal(pod.spec?.nodeName, SANDBOX_NODE);
    assert.equal(pod.status?.phase, 'Succeeded');
    assert.match(await logsOf(pod), /sandboxed by gVisor/);
  });
});

/** What `list` returns once it returns something (polled every 500 ms), or a failed assertion after `timeoutMs`. */
async function eventually<T>(list: () => Promise<T[]>, timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await list();
    if (found.length > 0) return found;
    if (Date.now() > deadline) assert.fail(`nothing found within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Succeeds only inside gVisor: its kernel log starts with the banner. */
function jobContainer(): k8s.V1Container {
  return {
    name: 'job',
    image: BUSYBOX_IMAGE,
    imagePullPolicy: 'Never',
    command: ['sh', '-c', 'dmesg | grep -q "Starting gVisor" && echo "sandboxed by gVisor"'],
  };
}

if (skip && isCI()) process.stderr.write(`[e2e] node suite skipped under CI: ${skip}\n`);
