// sandbox-admission against a real kube-apiserver: the API server calls the webhook process over TLS through
// the project's own MutatingWebhookConfiguration, exactly as in a cluster, and every assertion reads what the
// API server stored or answered.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { readManifests, renderMutatingWebhook, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';
import { startTestMutator, type TestMutator } from './harness/test-mutator.ts';
import { plain, rejection, waitFor } from './harness/api-assertions.ts';
import { describeSource, POLICY_SOURCES, policySourceOptions } from './harness/sandbox-policy.ts';

const bins = resolveBinaries();

const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e}
spec:
  profiles:
    gvisor-pool:
      runtimeClassName: gvisor-pool
      displayName: gVisor (dedicated pool)
      nodeSelector: {sandbox.example.com/pool: gvisor}
      unsupported: [hostNetwork]
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
    - name: pool-team
      match: {namespaces: [pool-team]}
      action: sandbox
      runtime: gvisor-pool
`;

const GKE_REQUIREMENT = { key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] };
const GKE_TOLERATION = { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' };

function pod(name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec } };
}

// Both policy sources (--policy-source): the mounted file, and the SandboxPolicy object "default" from the API.
for (const source of POLICY_SOURCES)
  describe(`sandbox-admission behind a real kube-apiserver (${describeSource(source)})`, {
    skip: bins.skip ?? false,
  }, () => {
    let cluster: Cluster;
    let webhook: WebhookProcess;
    let mutator: TestMutator;
    let core: k8s.CoreV1Api;
    const t0 = Date.now();

    before(
      async () => {
        cluster = await startCluster({ binaries: bins.binaries! });
        core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
        for (const rc of readManifests('manifests/base/runtime-classes.yaml')) await objects.create(rc as k8s.KubernetesObject);
        const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
        await node.createRuntimeClass({ body: { metadata: { name: 'gvisor-pool' }, handler: 'runsc' } });
        // Clusters often define a class for the default runtime; without it the RuntimeClass plugin refuses first.
        await node.createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } });
        webhook = await startWebhookProcess({
          dir: cluster.dir,
          kubeconfigPath: cluster.kubeconfigPath,
          ...(await policySourceOptions(source, cluster, bins.binaries!.kubectl, POLICY)),
        });
        await objects.create(renderMutatingWebhook(webhook.url, webhook.caPem) as k8s.KubernetesObject);
        mutator = await startTestMutator(cluster);
        for (const [name, labels] of [
          ['apps', {}],
          ['kata-ns', { 'sandbox-admission.io/runtime': 'kata' }],
          ['enforced', { 'sandbox-admission.io/runtime': 'gvisor' }],
          ['warned', { 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' }],
          ['pool-team', {}],
          ['reinvoke', { 'e2e.sandbox-admission.io/reinvoke': 'true' }],
        ] as const) {
          await createNamespace(cluster.kubeConfig, name, labels);
        }
        // Webhook configurations take effect once the API server's informer has them: wait for a sandboxed pod.
        await waitFor(
          async () =>
            (await core.createNamespacedPod({ namespace: 'apps', body: pod(`probe-${Date.now()}`, { app: 'untrusted' }), dryRun: 'All' }))
              .spec?.runtimeClassName === 'gvisor',
        );
        process.stderr.write(`[e2e] phase webhook-setup: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      },
      { timeout: 300_000 },
    );

    after(async () => {
      await mutator?.stop();
      await webhook?.stop();
      await cluster?.stop();
      process.stderr.write(`[e2e] phase webhook-suite: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    });

    it('1. the API server accepted the project webhook configuration and RuntimeClasses', async () => {
      const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
      const config = await admission.readMutatingWebhookConfiguration({ name: 'sandbox-admission' });
      assert.equal(config.webhooks?.[0]?.reinvocationPolicy, 'IfNeeded');
      assert.equal(config.webhooks?.[0]?.sideEffects, 'None');
      const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
      assert.equal((await node.readRuntimeClass({ name: 'gvisor' })).handler, 'runsc');
      const kata = await node.readRuntimeClass({ name: 'kata' });
      assert.equal(kata.handler, 'kata');
      assert.deepEqual(plain(kata.scheduling?.nodeSelector), { 'katacontainers.io/kata-runtime': 'true' });
    });

    it('2. an app=untrusted pod is stored in gVisor, GKE shape, with the decision annotation; an ordinary pod unchanged', async () => {
      await core.createNamespacedPod({ namespace: 'apps', body: pod('untrusted', { app: 'untrusted' }) });
      const stored = await core.readNamespacedPod({ namespace: 'apps', name: 'untrusted' });
      assert.equal(stored.spec?.runtimeClassName, 'gvisor');
      assert.deepEqual(plain(stored.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms), [
        { matchExpressions: [GKE_REQUIREMENT] },
      ]);
      assert.deepEqual(plain(stored.spec?.tolerations?.filter((t) => t.key === 'sandbox.gke.io/runtime')), [GKE_TOLERATION]);
      assert.equal(stored.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');

      await core.createNamespacedPod({ namespace: 'apps', body: pod('ordinary', { app: 'web' }) });
      const ordinary = await core.readNamespacedPod({ namespace: 'apps', name: 'ordinary' });
      assert.equal(ordinary.spec?.runtimeClassName, undefined);
      assert.equal(ordinary.spec?.affinity, undefined);
      assert.equal(ordinary.metadata?.annotations?.['sandbox-admission.io/rule'], undefined);
      // DefaultTolerationSeconds may add its not-ready/unreachable tolerations; none of ours.
      assert.equal(ordinary.spec?.tolerations?.some((t) => t.key === 'sandbox.gke.io/runtime') ?? false, false);
    });

    it('3. a namespace labelled for kata gets kata, and the RuntimeClass plugin then adds overhead and nodeSelector', async () => {
      await core.createNamespacedPod({ namespace: 'kata-ns', body: pod('vm', {}, { nodeSelector: { disk: 'ssd' } }) });
      const stored = await core.readNamespacedPod({ namespace: 'kata-ns', name: 'vm' });
      assert.equal(stored.spec?.runtimeClassName, 'kata');
      assert.deepEqual(plain(stored.spec?.overhead), { cpu: '250m', memory: '160Mi' });
      assert.deepEqual(plain(stored.spec?.nodeSelector), { disk: 'ssd', 'katacontainers.io/kata-runtime': 'true' });
      assert.equal(stored.metadata?.annotations?.['sandbox-admission.io/rule'], 'namespace-label');
    });

    it('4a. runtimeClassName: runc in an enforced namespace is refused with our message', async () => {
      const message = await rejection(
        core.createNamespacedPod({ namespace: 'enforced', body: pod('runc', {}, { runtimeClassName: 'runc' }) }),
      );
      assert.match(
        message,
        /admission webhook "mutate\.sandbox-admission\.io" denied the request: sandbox-admission denied this pod: the pod asks for runtimeClassName "runc"/,
      );
      assert.match(message, /allowed: gvisor, kata, gvisor-pool/);
    });

    it('4b. hostNetwork under a sandbox rule is refused with the offending field', async () => {
      const message = await rejection(
        core.createNamespacedPod({ namespace: 'apps', body: pod('hostnet', { app: 'untrusted' }, { hostNetwork: true }) }),
      );
      assert.match(message, /gVisor \(runtimeClassName "gvisor"\) cannot host spec\.hostNetwork/);
    });

    it('4c. a nodeSelector that contradicts the profile is refused naming both values', async () => {
      const message = await rejection(
        core.createNamespacedPod({
          namespace: 'pool-team',
          body: pod('conflict', {}, { nodeSelector: { 'sandbox.example.com/pool': 'general' } }),
        }),
      );
      assert.match(
        message,
        /spec\.nodeSelector\["sandbox\.example\.com\/pool"\] is "general" but runtime profile "gvisor-pool" needs "gvisor"/,
      );
    });

    it('4d. warn mode admits the pod and the client receives the admission warning', async () => {
      const response = await core.createNamespacedPodWithHttpInfo({
        namespace: 'warned',
        body: pod('runc-warned', {}, { runtimeClassName: 'runc' }),
      });
      assert.match(response.headers['warning'] ?? '', /warn mode, admitted unchanged.*runtimeClassName \\?"runc\\?"/);
      const stored = await core.readNamespacedPod({ namespace: 'warned', name: 'runc-warned' });
      assert.equal(stored.spec?.runtimeClassName, 'runc');
    });

    it('5. existing affinity terms and tolerations are kept and merged', async () => {
      const terms = [
        { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-1a'] }] },
        { matchExpressions: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['n2'] }] },
      ];
      const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }];
      await core.createNamespacedPod({
        namespace: 'apps',
        body: pod(
          'merged',
          { app: 'untrusted' },
          { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } }, tolerations },
        ),
      });
      const stored = await core.readNamespacedPod({ namespace: 'apps', name: 'merged' });
      assert.deepEqual(
        plain(stored.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms),
        terms.map((t) => ({ matchExpressions: [...t.matchExpressions, GKE_REQUIREMENT] })),
      );
      assert.deepEqual(
        plain(
          stored.spec?.tolerations?.filter((t) => t.key !== 'node.kubernetes.io/not-ready' && t.key !== 'node.kubernetes.io/unreachable'),
        ),
        [...tolerations, GKE_TOLERATION],
      );
    });

    it('6. a pod made the way the ReplicaSet controller makes it (generateName, ownerReferences) is sandboxed', async () => {
      const body = pod('', { app: 'untrusted', 'pod-template-hash': '7d9f8' });
      body.metadata = {
        generateName: 'web-7d9f8-',
        labels: body.metadata!.labels!,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'web-7d9f8',
            uid: '0d4bc3a4-58b6-4f39-a0b4-8e5d7b9a3c11',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      };
      const created = await core.createNamespacedPod({ namespace: 'apps', body });
      assert.match(created.metadata?.name ?? '', /^web-7d9f8-[a-z0-9]{5}$/);
      assert.equal(created.spec?.runtimeClassName, 'gvisor');
      assert.equal(created.metadata?.ownerReferences?.[0]?.kind, 'ReplicaSet');
    });

    it('7. dry-run gets the same decision and nothing is stored', async () => {
      const dry = await core.createNamespacedPod({ namespace: 'apps', body: pod('dry', { app: 'untrusted' }), dryRun: 'All' });
      assert.equal(dry.spec?.runtimeClassName, 'gvisor');
      assert.equal(dry.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');
      const message = await rejection(core.readNamespacedPod({ namespace: 'apps', name: 'dry' }));
      assert.match(message, /not found/);
      const [log] = await webhook.waitForLogLines((l) => l.msg === 'admission decision' && l.pod === 'dry');
      assert.equal(log?.dryRun, true);
    });

    it('8. a later webhook that strips our tolerations triggers reinvocation; the final pod is correct and not double-patched', async () => {
      await core.createNamespacedPod({ namespace: 'reinvoke', body: pod('again', { app: 'untrusted' }) });
      const stored = await core.readNamespacedPod({ namespace: 'reinvoke', name: 'again' });
      assert.equal(stored.metadata?.labels?.['e2e.sandbox-admission.io/mutated'], 'true', 'the test mutator ran');
      assert.equal(stored.spec?.runtimeClassName, 'gvisor');
      assert.deepEqual(plain(stored.spec?.tolerations?.filter((t) => t.key === 'sandbox.gke.io/runtime')), [GKE_TOLERATION]);
      assert.deepEqual(plain(stored.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms), [
        { matchExpressions: [GKE_REQUIREMENT] },
      ]);
      const calls = await webhook.waitForLogLines(
        (l) => l.msg === 'admission decision' && l.namespace === 'reinvoke' && l.pod === 'again',
        2,
      );
      assert.equal(calls.length, 2, 'called once, then reinvoked once');
      assert.equal(calls[1]!.patchOps, 1, 'the reinvocation only restores the stripped toleration');
    });

    it('9. with the webhook down, governed pod creation fails closed and exempt namespaces keep working', async () => {
      await webhook.stop();
      const message = await rejection(core.createNamespacedPod({ namespace: 'apps', body: pod('while-down', { app: 'web' }) }));
      assert.match(message, /failed calling webhook "mutate\.sandbox-admission\.io"/);
      for (const namespace of ['kube-system', 'sandbox-admission']) {
        await createNamespace(cluster.kubeConfig, namespace).catch(() => undefined);
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } }).catch(() => undefined);
        const created = await core.createNamespacedPod({ namespace, body: pod('still-works', { app: 'untrusted' }) });
        assert.equal(created.spec?.runtimeClassName, undefined);
      }
    });
  });
