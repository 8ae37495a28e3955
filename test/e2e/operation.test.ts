// Running in a cluster: what an operator sees. A refused policy edit becomes a Warning event on the policy
// ConfigMap while the last good policy keeps deciding; a profile whose RuntimeClass is missing shows in /readyz
// and /metrics until the class appears.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { renderMutatingWebhook, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';
import { waitFor } from './harness/api-assertions.ts';
import { exitWithin, jsonLines, startServeProcess } from '../helpers/serve-process.ts';

const bins = resolveBinaries();
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-operation}
spec:
  rules:
    - {name: untrusted-apps, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
`;

describe('operating sandbox-admission in a real cluster', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let webhook: WebhookProcess;
  let core: k8s.CoreV1Api;

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      // Only gvisor exists: the built-in kata profile has no RuntimeClass yet.
      await cluster.kubeConfig
        .makeApiClient(k8s.NodeV1Api)
        .createRuntimeClass({ body: { metadata: { name: 'gvisor' }, handler: 'runsc' } });
      await createNamespace(cluster.kubeConfig, 'sandbox-admission');
      await createNamespace(cluster.kubeConfig, 'apps');
      webhook = await startWebhookProcess({ dir: cluster.dir, kubeconfigPath: cluster.kubeconfigPath, policyYaml: POLICY });
      await k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig).create(
        renderMutatingWebhook(webhook.url, webhook.caPem) as k8s.KubernetesObject,
      );
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await webhook?.stop();
    await cluster?.stop();
  });

  it('in cluster mode, an invalid policy or a busy port exits 1 within seconds with the reason last in the log (issue 10, item 5)', async () => {
    const bad = join(cluster.dir, 'bad-policy.yaml');
    writeFileSync(bad, POLICY.replace('runtime: gvisor', 'runtime: firecracker'));
    const certArgs = [
      '--certificates',
      'files',
      '--tls-cert-file',
      join(cluster.dir, 'webhook.crt'),
      '--tls-key-file',
      join(cluster.dir, 'webhook.key'),
    ];
    const common = [...certArgs, '--kubeconfig', cluster.kubeconfigPath, '--host', '127.0.0.1', '--drain-delay', '0'];
    const badPolicy = startServeProcess(cluster.dir, 'cluster-bad-policy', [...common, '--policy', bad, '--port', '0']);
    assert.equal(await exitWithin(badPolicy, 15_000), 1, 'the informers kept the process alive before');
    const last = jsonLines(badPolicy).at(-1)!;
    assert.equal(last['msg'], 'start-up failed; exiting');
    assert.match((last['err'] as { message: string }).message, /POLICY_REFERENCE at spec\.rules\[0\]\.runtime/);
    const busy = startServeProcess(cluster.dir, 'cluster-busy-port', [
      ...common,
      '--policy',
      join(cluster.dir, 'policy.yaml'),
      '--port',
      new URL(webhook.url).port,
    ]);
    assert.equal(await exitWithin(busy, 15_000), 1);
    assert.equal(jsonLines(busy).at(-1)!['code'], 'EADDRINUSE');
  });

  it('a profile without its RuntimeClass is reported in /readyz and /metrics, and clears when the class appears', async () => {
    const ready = JSON.parse((await webhook.get('/readyz')).text) as {
      ready: boolean;
      detail: { runtimeClassProblems?: Array<{ profile: string; problem: string }> };
    };
    assert.equal(ready.ready, true, 'a missing class is reported, not a reason to stop serving');
    assert.deepEqual(ready.detail.runtimeClassProblems, [{ profile: 'kata', runtimeClassName: 'kata', problem: 'missing' }]);
    assert.match(
      (await webhook.get('/metrics')).text,
      /sandbox_admission_profile_runtime_class_problems\{profile="kata",runtime_class="kata",problem="missing"\} 1/,
    );
    await cluster.kubeConfig.makeApiClient(k8s.NodeV1Api).createRuntimeClass({ body: { metadata: { name: 'kata' }, handler: 'kata' } });
    await waitFor(async () => {
      const detail = (JSON.parse((await webhook.get('/readyz')).text) as { detail: { runtimeClassProblems?: unknown } }).detail;
      return detail.runtimeClassProblems === undefined;
    });
  });

  it('a refused policy edit becomes a PolicyRejected event with the field path, and the last good policy keeps deciding', async () => {
    writeFileSync(join(cluster.dir, 'policy.yaml'), POLICY.replace('runtime: gvisor', 'runtime: firecraker'));
    let event: k8s.CoreV1Event | undefined;
    await waitFor(async () => {
      event = (await core.listNamespacedEvent({ namespace: 'sandbox-admission' })).items.find((e) => e.reason === 'PolicyRejected');
      return event !== undefined;
    });
    assert.ok(event);
    assert.equal(event.type, 'Warning');
    assert.equal(event.involvedObject.kind, 'ConfigMap');
    assert.equal(event.involvedObject.name, 'sandbox-admission-policy');
    assert.match(
      event.message ?? '',
      /POLICY_REFERENCE at spec\.rules\[0\]\.runtime \(line \d+, column \d+\): no runtime profile "firecraker"/,
    );
    const dry = await core.createNamespacedPod({
      namespace: 'apps',
      dryRun: 'All',
      body: { metadata: { name: 'still', labels: { app: 'untrusted' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    });
    assert.equal(dry.spec?.runtimeClassName, 'gvisor');
  });
});
