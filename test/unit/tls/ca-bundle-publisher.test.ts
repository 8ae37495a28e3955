import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { encodeCaBundle } from '../../../src/tls/ca-bundle.ts';
import { createCaBundlePublisher, planCaBundlePatch } from '../../../src/tls/ca-bundle-publisher.ts';
import { createCertificateAuthority } from '../../../src/tls/certificates.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const now = new Date('2026-03-01T12:00:00Z');
const a = createCertificateAuthority({ commonName: 'ca-a', validityDays: 30, now }).certPem;
const b = createCertificateAuthority({ commonName: 'ca-b', validityDays: 30, now }).certPem;

describe('planCaBundlePatch', () => {
  it('sets caBundle on every webhook that lacks the bundle, by index, guarded by name and resourceVersion', () => {
    const operations = planCaBundlePatch(
      {
        resourceVersion: '42',
        webhooks: [
          { name: 'mutate.x', caBundle: undefined },
          { name: 'other.x', caBundle: encodeCaBundle(a) },
        ],
      },
      `${a}${b}`,
    );
    assert.deepEqual(operations, [
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'test', path: '/webhooks/0/name', value: 'mutate.x' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: encodeCaBundle(`${a}${b}`) },
      { op: 'test', path: '/webhooks/1/name', value: 'other.x' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: encodeCaBundle(`${a}${b}`) },
    ]);
  });

  it('leaves webhooks alone that already carry the same CAs, whatever the order', () => {
    const view = { resourceVersion: '7', webhooks: [{ name: 'w', caBundle: encodeCaBundle(`${b}${a}`) }] };
    assert.deepEqual(planCaBundlePatch(view, `${a}${b}`), []);
  });

  it('replaces a bundle with an extra CA or garbage', () => {
    assert.equal(planCaBundlePatch({ resourceVersion: '1', webhooks: [{ name: 'w', caBundle: encodeCaBundle(`${a}${b}`) }] }, a).length, 3);
    assert.equal(planCaBundlePatch({ resourceVersion: '1', webhooks: [{ name: 'w', caBundle: 'bm90IGEgYnVuZGxl' }] }, a).length, 3);
  });

  it('produces a patch that applies to the object it was planned from, and fails on a changed one', () => {
    const object = {
      metadata: { name: 'sandbox-admission', resourceVersion: '5' },
      webhooks: [{ name: 'mutate.x', clientConfig: { url: 'https://127.0.0.1:1/mutate' } }],
    };
    const operations = planCaBundlePatch({ resourceVersion: '5', webhooks: [{ name: 'mutate.x', caBundle: undefined }] }, a);
    const patched = fastJsonPatch.applyPatch(structuredClone(object), operations, true, false).newDocument;
    assert.equal(patched.webhooks[0]?.clientConfig.url, 'https://127.0.0.1:1/mutate');
    assert.equal((patched.webhooks[0]?.clientConfig as { caBundle?: string } | undefined)?.caBundle, encodeCaBundle(a));
    const changed = { ...structuredClone(object), metadata: { name: 'sandbox-admission', resourceVersion: '6' } };
    assert.throws(() => fastJsonPatch.applyPatch(changed, operations, true, false));
  });
});

describe('createCaBundlePublisher requests', () => {
  const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sandbox-admission';
  const VWC = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/sandbox-admission';
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const configurations = [
    { kind: 'MutatingWebhookConfiguration', name: 'sandbox-admission' },
    { kind: 'ValidatingWebhookConfiguration', name: 'sandbox-admission' },
  ] as const;

  it('reads each configuration and sends a JSON patch with its content type; a missing one (404) is reported, not patched', async () => {
    const client = createFakeKubeApiClient((request) => {
      if (request.path === VWC) throw kubeApiError(404, 'not found');
      return request.method === 'GET'
        ? { metadata: { resourceVersion: '7' }, webhooks: [{ name: 'mutate.x', clientConfig: { url: 'https://x' } }] }
        : {};
    });
    const report = await createCaBundlePublisher({ client, configurations, log }).publish(a);
    assert.deepEqual(
      report.configurations.map((c) => c.result),
      ['patched', 'missing'],
    );
    assert.deepEqual(client.requests, [
      { method: 'GET', path: MWC },
      {
        method: 'PATCH',
        path: MWC,
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: '7' },
          { op: 'test', path: '/webhooks/0/name', value: 'mutate.x' },
          { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: encodeCaBundle(a) },
        ],
      },
      { method: 'GET', path: VWC },
    ]);
  });

  it('a failed test (422) or a conflict (409) reads again and retries; a 403 is final', async () => {
    let patches = 0;
    const client = createFakeKubeApiClient((request) => {
      if (request.method === 'PATCH' && ++patches === 1) throw kubeApiError(422, 'the test operation failed');
      if (request.method === 'PATCH' && patches === 2) throw kubeApiError(409, 'conflict');
      return request.method === 'GET'
        ? { metadata: { resourceVersion: String(patches) }, webhooks: [{ name: 'mutate.x', clientConfig: {} }] }
        : {};
    });
    const publisher = createCaBundlePublisher({ client, configurations: [configurations[0]], log });
    assert.equal((await publisher.publish(a)).configurations[0]!.result, 'patched');
    assert.equal(patches, 3);
    client.failNext(MWC, kubeApiError(403, 'cannot get mutatingwebhookconfigurations'));
    const forbidden = (await publisher.publish(b)).configurations[0]!;
    assert.equal(forbidden.result, 'failed');
    assert.equal(forbidden.error, '403: cannot get mutatingwebhookconfigurations');
  });
});
