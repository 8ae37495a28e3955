import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createObjectWriter, FIELD_MANAGER } from '../../../src/cluster/server-side-apply.ts';
import { createFakeKubeApiClient, kubeApiError, pageOf } from '../helpers/fake-kube-api-client.ts';

const VAPS = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const POLICY = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'sandbox-admission-enforce', labels: { 'app.kubernetes.io/managed-by': 'sandbox-admission' } },
  spec: { failurePolicy: 'Fail' },
};

describe('createObjectWriter', () => {
  test('list pages through the label selector (raw `continue`), and gives every item the apiVersion and kind asked for', async () => {
    const items = ['a', 'b', 'c'].map((name) => ({ metadata: { name } }));
    const client = createFakeKubeApiClient((request) => pageOf(items, { ...request.query, limit: 2 }));
    const listed = await createObjectWriter(client).list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', 'a=b,c=d');
    assert.deepEqual(
      listed.map((o) => [o.apiVersion, o.kind, o.metadata?.name]),
      ['a', 'b', 'c'].map((name) => ['admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', name]),
    );
    assert.deepEqual(client.requests, [
      { method: 'GET', path: VAPS, query: { labelSelector: 'a=b,c=d', limit: 500, continue: undefined } },
      { method: 'GET', path: VAPS, query: { labelSelector: 'a=b,c=d', limit: 500, continue: '2' } },
    ]);
  });

  test('list in one namespace lists there; across namespaces without one', async () => {
    const client = createFakeKubeApiClient(() => ({ items: [] }));
    const writer = createObjectWriter(client);
    await writer.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'x=y', 'apps');
    await writer.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'x=y');
    assert.deepEqual(
      client.requests.map((r) => r.path),
      ['/apis/wgpolicyk8s.io/v1alpha2/namespaces/apps/policyreports', '/apis/wgpolicyk8s.io/v1alpha2/policyreports'],
    );
  });

  test('apply is a forced server-side apply PATCH under the field manager, the object as its body', async () => {
    const client = createFakeKubeApiClient(() => ({ ...POLICY, metadata: { ...POLICY.metadata, resourceVersion: '5' } }));
    const applied = await createObjectWriter(client).apply(POLICY);
    assert.equal(applied.metadata?.resourceVersion, '5');
    assert.deepEqual(client.requests, [
      {
        method: 'PATCH',
        path: `${VAPS}/sandbox-admission-enforce`,
        query: { fieldManager: FIELD_MANAGER, force: true },
        contentType: 'application/apply-patch+yaml',
        body: POLICY,
      },
    ]);
  });

  test('replace PUTs the object (its resourceVersion the precondition) under the field manager; a 409 is thrown', async () => {
    const client = createFakeKubeApiClient((request) => request.body);
    const object = { ...POLICY, metadata: { ...POLICY.metadata, resourceVersion: '5' } };
    await createObjectWriter(client).replace(object);
    assert.deepEqual(client.requests, [
      { method: 'PUT', path: `${VAPS}/sandbox-admission-enforce`, query: { fieldManager: FIELD_MANAGER }, body: object },
    ]);
    client.failNext(`${VAPS}/sandbox-admission-enforce`, kubeApiError(409, 'the object has been modified'));
    await assert.rejects(createObjectWriter(client).replace(object), { code: 409 });
  });

  test('delete sends DELETE to the object; 404 (already gone) is success, anything else is thrown', async () => {
    const client = createFakeKubeApiClient(() => ({ kind: 'Status', status: 'Success' }));
    const writer = createObjectWriter(client);
    const report = { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', metadata: { name: 'r', namespace: 'apps' } };
    const path = '/apis/wgpolicyk8s.io/v1alpha2/namespaces/apps/policyreports/r';
    await writer.delete(report);
    client.failNext(path, kubeApiError(404, 'not found'));
    await writer.delete(report);
    client.failNext(path, kubeApiError(403, 'forbidden'));
    await assert.rejects(writer.delete(report), { code: 403 });
    assert.deepEqual(
      client.requests.map((r) => `${r.method} ${r.path}`),
      [`DELETE ${path}`, `DELETE ${path}`, `DELETE ${path}`],
    );
  });

  test('an object without a name, or of a kind with no known path, is refused before anything is sent', async () => {
    const client = createFakeKubeApiClient();
    const writer = createObjectWriter(client);
    await assert.rejects(
      writer.apply({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy' }),
      /metadata\.name/,
    );
    await assert.rejects(
      writer.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'y' } }),
      /no REST path known for v1 ConfigMap/,
    );
    assert.deepEqual(client.requests, []);
  });
});
