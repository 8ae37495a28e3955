// Proves the e2e harness gives a real, correctly configured API server: the
// RuntimeClass admission plugin (which our webhook's RuntimeClass choice relies
// on) is active, so pods get the class's overhead and node selector, and an
// unknown runtimeClassName is refused.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';

const bins = resolveBinaries();
const NS = 'smoke';

function pod(name: string, runtimeClassName: string): k8s.V1Pod {
  return {
    metadata: { name },
    spec: {
      runtimeClassName,
      nodeSelector: { disk: 'ssd' },
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
    },
  };
}

describe('e2e cluster smoke', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster | undefined;
  let core: k8s.CoreV1Api;

  before(
    async () => {
      if (!bins.binaries) return;
      cluster = await startCluster({ binaries: bins.binaries });
      const kc = cluster.kubeConfig;
      core = kc.makeApiClient(k8s.CoreV1Api);
      await createNamespace(kc, NS, { 'e2e.sandbox-admission/test': 'smoke' });
      const node = kc.makeApiClient(k8s.NodeV1Api);
      await node.createRuntimeClass({ body: { metadata: { name: 'gvisor' }, handler: 'runsc' } });
      await node.createRuntimeClass({
        body: {
          metadata: { name: 'kata' },
          handler: 'kata',
          overhead: { podFixed: { cpu: '250m', memory: '160Mi' } },
          scheduling: { nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } },
        },
      });
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await cluster?.stop();
  });

  it('serves the admin identity over verified TLS', async () => {
    assert.match(cluster!.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ns = await core.readNamespace({ name: NS });
    assert.equal(ns.metadata?.labels?.['e2e.sandbox-admission/test'], 'smoke');
  });

  it('RuntimeClass admission sets overhead and merges the node selector', async () => {
    const created = await core.createNamespacedPod({ namespace: NS, body: pod('kata-pod', 'kata') });
    const stored = await core.readNamespacedPod({ namespace: NS, name: 'kata-pod' });
    for (const p of [created, stored]) {
      assert.equal(p.spec?.runtimeClassName, 'kata');
      assert.deepEqual(p.spec?.overhead, { cpu: '250m', memory: '160Mi' });
      assert.deepEqual(p.spec?.nodeSelector, { disk: 'ssd', 'katacontainers.io/kata-runtime': 'true' });
    }
  });

  it('a RuntimeClass without scheduling or overhead leaves the pod as is', async () => {
    const created = await core.createNamespacedPod({ namespace: NS, body: pod('gvisor-pod', 'gvisor') });
    assert.equal(created.spec?.runtimeClassName, 'gvisor');
    assert.equal(created.spec?.overhead, undefined);
    assert.deepEqual(created.spec?.nodeSelector, { disk: 'ssd' });
  });

  it('rejects a pod whose runtimeClassName does not exist', async () => {
    await assert.rejects(core.createNamespacedPod({ namespace: NS, body: pod('bad-pod', 'no-such-class') }), (err: unknown) => {
      assert.ok(err instanceof k8s.ApiException, `expected ApiException, got ${String(err)}`);
      assert.equal(err.code, 403);
      // client-node 2.0.1 leaves the Status body as unparsed JSON text.
      const status = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as k8s.V1Status;
      assert.equal(status.reason, 'Forbidden');
      assert.match(status.message ?? '', /pod rejected: RuntimeClass "no-such-class" not found/);
      return true;
    });
  });
});
