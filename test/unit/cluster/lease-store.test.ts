import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createKubernetesLeaseStore } from '../../../src/cluster/lease-store.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const COLLECTION = '/apis/coordination.k8s.io/v1/namespaces/sandbox-admission/leases';
const TARGET = { namespace: 'sandbox-admission', name: 'sandbox-admission' };
const RECORD = {
  holderIdentity: 'pod-a',
  leaseDurationSeconds: 15,
  leaseTransitions: 2,
  acquireTime: '2026-12-01T23:00:00.123000Z',
  renewTime: '2026-12-01T23:00:05.456000Z',
};

/** The Lease as the API server answers: MicroTime with six fraction digits. */
function served(resourceVersion: string) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'sandbox-admission', namespace: 'sandbox-admission', resourceVersion },
    spec: { ...RECORD, acquireTime: '2026-12-01T23:00:00.123456Z', renewTime: '2026-12-01T23:00:05.456789Z' },
  };
}

describe('createKubernetesLeaseStore', () => {
  test('get reads the Lease by name and keeps its times as the server wrote them; 404 is no Lease', async () => {
    const client = createFakeKubeApiClient(() => served('7'));
    const store = createKubernetesLeaseStore(client, TARGET);
    assert.deepEqual(await store.get(), {
      resourceVersion: '7',
      record: { ...RECORD, acquireTime: '2026-12-01T23:00:00.123456Z', renewTime: '2026-12-01T23:00:05.456789Z' },
    });
    assert.deepEqual(client.requests, [{ method: 'GET', path: `${COLLECTION}/sandbox-admission` }]);

    client.failNext(`${COLLECTION}/sandbox-admission`, kubeApiError(404, 'leases.coordination.k8s.io "sandbox-admission" not found'));
    assert.equal(await store.get(), undefined);
    client.failNext(`${COLLECTION}/sandbox-admission`, kubeApiError(403, 'forbidden'));
    await assert.rejects(store.get(), { code: 403 });
  });

  test('create POSTs the Lease to the collection with six-digit MicroTimes and the app label', async () => {
    const client = createFakeKubeApiClient(() => served('8'));
    const stored = await createKubernetesLeaseStore(client, TARGET).create({ ...RECORD, acquireTime: '2026-12-01T23:00:00.123Z' });
    assert.equal(stored.resourceVersion, '8');
    assert.deepEqual(client.requests, [
      {
        method: 'POST',
        path: COLLECTION,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: 'sandbox-admission',
            namespace: 'sandbox-admission',
            labels: { 'app.kubernetes.io/name': 'sandbox-admission' },
          },
          spec: {
            holderIdentity: 'pod-a',
            leaseDurationSeconds: 15,
            leaseTransitions: 2,
            acquireTime: '2026-12-01T23:00:00.123000Z',
            renewTime: '2026-12-01T23:00:05.456000Z',
          },
        },
      },
    ]);
  });

  test('update PUTs the Lease with the resourceVersion it read; a 409 (someone wrote since) is thrown', async () => {
    const client = createFakeKubeApiClient(() => served('9'));
    const store = createKubernetesLeaseStore(client, TARGET);
    await store.update(RECORD, '8');
    const sent = client.requests[0]!;
    assert.equal(sent.method, 'PUT');
    assert.equal(sent.path, `${COLLECTION}/sandbox-admission`);
    assert.equal((sent.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion, '8');
    client.failNext(`${COLLECTION}/sandbox-admission`, kubeApiError(409, 'the object has been modified'));
    await assert.rejects(store.update(RECORD, '8'), { code: 409, reason: 'Conflict' });
  });
});
