// Leader election on a real Lease, as the webhook's ServiceAccount with the manifests' RBAC: one leader among
// candidates, a renewed Lease, a takeover when the leader stops renewing, and an immediate one when it releases.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLeaderElector, type LeaderElector, type LeaseStore } from '../../src/cluster/leader-election.ts';
import { createKubernetesLeaseStore } from '../../src/cluster/lease-store.ts';
import { productApiClient } from './harness/api-client.ts';
import { waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { applyManifestRbac, serviceAccountKubeConfig } from './harness/service-account.ts';

const bins = resolveBinaries();
const NAMESPACE = 'sandbox-admission';
const TIMING = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const quiet = { info: () => undefined, warn: () => undefined };

describe('leader election on a coordination.k8s.io Lease', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let store: LeaseStore;
  let coordination: k8s.CoordinationV1Api;
  const electors: LeaderElector[] = [];

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      await createNamespace(cluster.kubeConfig, NAMESPACE);
      await applyManifestRbac(cluster.kubeConfig);
      const sa = serviceAccountKubeConfig(cluster.kubeConfig, cluster.dir);
      // TEMPORARY (issue 15): the merge builds the client from kube-core's loader.
      store = createKubernetesLeaseStore(await productApiClient(sa.path), { namespace: NAMESPACE, name: 'sandbox-admission' });
      coordination = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    for (const e of electors) await e.stop();
    await cluster?.stop();
  });

  const lease = () => coordination.readNamespacedLease({ name: 'sandbox-admission', namespace: NAMESPACE });
  const candidate = (identity: string, leaseStore: LeaseStore = store) => {
    const e = createLeaderElector({ store: leaseStore, identity, timing: TIMING, log: quiet });
    electors.push(e);
    return e;
  };

  it('elects one of three, renews the Lease, and hands it over when the leader stops renewing or releases it', async () => {
    let frozen = false;
    // "a"'s calls stop answering once frozen: a process that no longer runs (SIGKILL), as far as the Lease sees.
    const freezable: LeaseStore = {
      get: () => (frozen ? new Promise(() => undefined) : store.get()),
      create: (r) => (frozen ? new Promise(() => undefined) : store.create(r)),
      update: (r, v) => (frozen ? new Promise(() => undefined) : store.update(r, v)),
    };
    const a = candidate('a', freezable);
    const heardByA: boolean[] = [];
    a.onChange((leading) => heardByA.push(leading));
    a.start();
    await waitFor(async () => a.isLeader(), 10_000, 50);
    const b = candidate('b');
    const c = candidate('c');
    b.start();
    c.start();

    const first = await lease();
    assert.equal(first.spec?.holderIdentity, 'a');
    assert.equal(first.spec?.leaseDurationSeconds, 2);
    // Renewed: the renewTime moves, the holder stays, and nobody else leads meanwhile.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        [a, b, c].filter((e) => e.isLeader()).map((e) => e.identity),
        ['a'],
      );
    }
    const renewed = await lease();
    assert.equal(renewed.spec?.holderIdentity, 'a');
    assert.notEqual(String(renewed.spec?.renewTime), String(first.spec?.renewTime));
    assert.equal(b.holder(), 'a');

    frozen = true;
    const frozenAt = Date.now();
    await waitFor(async () => b.isLeader() || c.isLeader(), 10_000, 20);
    const takeoverMs = Date.now() - frozenAt;
    process.stderr.write(`[leader-election] takeover ${takeoverMs} ms after the leader stopped renewing\n`);
    assert.ok(takeoverMs <= TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs + 500, `took ${takeoverMs} ms`);
    assert.equal(a.isLeader(), false, 'the frozen leader stepped down at its renew deadline');
    assert.deepEqual(heardByA, [true, false], "the frozen leader's listeners (its writers) heard it step down");
    const next = [b, c].find((e) => e.isLeader())!;
    const other = next === b ? c : b;
    const taken = await lease();
    assert.equal(taken.spec?.holderIdentity, next.identity);
    assert.equal(taken.spec?.leaseTransitions, 1);

    // A release (stop) passes it on at the other's next retry, far sooner than a lease duration.
    const releasedAt = Date.now();
    await next.stop();
    assert.equal((await lease()).spec?.holderIdentity, '');
    await waitFor(async () => other.isLeader(), 5_000, 20);
    const handover = Date.now() - releasedAt;
    assert.ok(handover < TIMING.leaseDurationMs, `handover took ${handover} ms`);
    assert.equal((await lease()).spec?.holderIdentity, other.identity);
  });

  it('a write with a stale resourceVersion is refused, so two candidates never both win a round', async () => {
    for (const e of electors) await e.stop();
    const current = await store.get();
    assert.ok(current);
    await store.update({ ...current.record, leaseTransitions: current.record.leaseTransitions + 1 }, current.resourceVersion);
    await assert.rejects(
      store.update({ ...current.record, holderIdentity: 'late' }, current.resourceVersion),
      (e: { code?: number }) => e.code === 409,
    );
  });
});
