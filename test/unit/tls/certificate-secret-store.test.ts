import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiRequest } from '../../../src/kube/api-client.ts';
import { changedAtAnnotation, createCertificateSecretStore, encodeSecretData } from '../../../src/tls/certificate-secret-store.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const SECRETS = '/api/v1/namespaces/sandbox-admission/secrets';
const SECRET = `${SECRETS}/sandbox-admission-tls`;
const MATERIAL = { caBundlePem: 'CA', caKeyPem: 'CA KEY', certPem: 'CERT', keyPem: 'KEY' };
const AT = new Date('2026-12-01T23:40:00.000Z');

function stored(resourceVersion: string, material = MATERIAL) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'sandbox-admission-tls',
      namespace: 'sandbox-admission',
      resourceVersion,
      annotations: { [changedAtAnnotation]: AT.toISOString() },
    },
    type: 'kubernetes.io/tls',
    data: encodeSecretData(material),
  };
}

function storeWith(handler: (request: ApiRequest) => unknown) {
  const client = createFakeKubeApiClient(handler);
  const store = createCertificateSecretStore({
    client,
    namespace: 'sandbox-admission',
    name: 'sandbox-admission-tls',
    labels: { app: 'x' },
  });
  return { client, store };
}

describe('createCertificateSecretStore', () => {
  test('read GETs the Secret and decodes it; 404 is no Secret, other errors are thrown', async () => {
    const { client, store } = storeWith(() => stored('3'));
    const snapshot = await store.read();
    assert.deepEqual(snapshot?.material, MATERIAL);
    assert.equal(snapshot?.resourceVersion, '3');
    assert.equal(snapshot?.changedAt?.toISOString(), AT.toISOString());
    client.failNext(SECRET, kubeApiError(404, 'secrets "sandbox-admission-tls" not found'));
    assert.equal(await store.read(), undefined);
    client.failNext(SECRET, kubeApiError(403, 'forbidden'));
    await assert.rejects(store.read(), { code: 403 });
    assert.deepEqual(client.requests[0], { method: 'GET', path: SECRET });
  });

  test('create POSTs a kubernetes.io/tls Secret; on 409 it adopts the one another replica created', async () => {
    const { client, store } = storeWith((request) =>
      request.method === 'POST' ? { ...(request.body as object), metadata: { resourceVersion: '1' } } : stored('2'),
    );
    assert.equal((await store.create(MATERIAL, AT)).kind, 'created');
    assert.deepEqual(client.requests[0], {
      method: 'POST',
      path: SECRETS,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'sandbox-admission-tls',
          namespace: 'sandbox-admission',
          labels: { app: 'x' },
          annotations: { [changedAtAnnotation]: '2026-12-01T23:40:00.000Z' },
        },
        type: 'kubernetes.io/tls',
        data: encodeSecretData(MATERIAL),
      },
    });
    client.failNext(SECRETS, kubeApiError(409, 'secrets "sandbox-admission-tls" already exists'));
    const adopted = await store.create(MATERIAL, AT);
    assert.equal(adopted.kind, 'adopted');
    assert.equal(adopted.snapshot.resourceVersion, '2');
    assert.deepEqual(
      client.requests.slice(1).map((r) => `${r.method} ${r.path}`),
      [`POST ${SECRETS}`, `GET ${SECRET}`],
    );
  });

  test('update PUTs the read Secret with its resourceVersion and new data; 409 or 404 reads what is there now', async () => {
    const { client, store } = storeWith((request) =>
      request.method === 'PUT' ? { ...(request.body as object), metadata: { resourceVersion: '5' } } : stored('6'),
    );
    const previous = (await store.read())!;
    const next = { ...MATERIAL, certPem: 'NEW CERT' };
    const later = new Date('2026-12-02T00:00:00.000Z');
    assert.equal((await store.update(previous, next, later)).kind, 'updated');
    const put = client.requests[1]!;
    assert.equal(put.method, 'PUT');
    assert.equal(put.path, SECRET);
    const body = put.body as ReturnType<typeof stored>;
    assert.equal(body.metadata.resourceVersion, '6');
    assert.equal(body.metadata.annotations[changedAtAnnotation], later.toISOString());
    assert.equal(body.type, 'kubernetes.io/tls');
    assert.deepEqual(body.data, encodeSecretData(next));
    for (const code of [409, 404]) {
      client.failNext(SECRET, kubeApiError(code, 'refused'));
      const outcome = await store.update(previous, next, later);
      assert.equal(outcome.kind, 'conflict', `HTTP ${code}`);
    }
    client.failNext(SECRET, kubeApiError(422, 'invalid'));
    await assert.rejects(store.update(previous, next, later), { code: 422 });
  });
});
