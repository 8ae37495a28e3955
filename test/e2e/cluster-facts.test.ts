// The informer caches against a real API server: readiness is tracked by hand because client-node's start()
// resolves even when the first list failed, and the cache retries until it can list.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClusterFacts, type ClusterFacts } from '../../src/cluster/cluster-facts.ts';
import { productApiClient } from './harness/api-client.ts';
import { waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';

const bins = resolveBinaries();
const quiet = { info: () => undefined, warn: () => undefined };

describe('namespace and RuntimeClass caches against a real API server', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let facts: ClusterFacts | undefined;

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
    },
    { timeout: 180_000 },
  );
  after(async () => {
    await facts?.stop();
    await cluster?.stop();
  });

  it('stays not ready while it may not list, and becomes ready once RBAC allows it, without a restart', async () => {
    facts = createClusterFacts(await productApiClient(cluster.kubeconfigPath, { impersonate: 'cache-user' }), quiet);
    await facts.start();
    assert.deepEqual(facts.readiness(), { ready: false, detail: { namespacesSynced: false, runtimeClassesSynced: false } });

    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'cache-user' },
        rules: [
          { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['node.k8s.io'], resources: ['runtimeclasses'], verbs: ['list', 'watch'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'cache-user' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cache-user' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'cache-user' }],
      },
    });
    await waitFor(async () => facts!.readiness().ready, 20_000);
  });

  it('serves namespace labels and RuntimeClasses from memory, following changes', async () => {
    await createNamespace(cluster.kubeConfig, 'team-a', { 'sandbox-admission.io/runtime': 'kata' });
    await cluster.kubeConfig.makeApiClient(k8s.NodeV1Api).createRuntimeClass({
      body: {
        metadata: { name: 'kata' },
        handler: 'kata',
        overhead: { podFixed: { cpu: '250m' } },
        scheduling: { nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } },
      },
    });
    // A namespace the watch has not delivered yet is read once from the API, so this holds at once.
    assert.deepEqual(
      { ...(await facts!.namespaceLabels('team-a')) },
      { 'kubernetes.io/metadata.name': 'team-a', 'sandbox-admission.io/runtime': 'kata' },
    );
    await waitFor(async () => facts!.runtimeClasses().has('kata'));
    assert.deepEqual(facts!.runtimeClasses().get('kata'), {
      name: 'kata',
      handler: 'kata',
      nodeSelector: { 'katacontainers.io/kata-runtime': 'true' },
      overhead: { cpu: '250m' },
    });

    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.patchNamespace(
      { name: 'team-a', body: [{ op: 'add', path: '/metadata/labels/sandbox-admission.io~1mode', value: 'warn' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    await waitFor(async () => (await facts!.namespaceLabels('team-a'))?.['sandbox-admission.io/mode'] === 'warn');
  });

  it('a namespace that does not exist reads as undefined (one GET, 404)', async () => {
    assert.equal(await facts!.namespaceLabels('no-such-namespace'), undefined);
  });
});
