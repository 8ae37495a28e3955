import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { encodeCaBundle } from '../../../src/tls/ca-bundle.ts';
import { planCaBundlePatch } from '../../../src/tls/ca-bundle-publisher.ts';
import { createCertificateAuthority } from '../../../src/tls/certificates.ts';

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
