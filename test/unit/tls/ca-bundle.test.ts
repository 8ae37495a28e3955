import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodeCaBundle,
  encodeCaBundle,
  isSameBundle,
  listBundleFingerprints,
  mergeCaBundles,
  splitPemBundle,
} from '../../../src/tls/ca-bundle.ts';
import { createCertificateAuthority } from '../../../src/tls/certificates.ts';

const now = new Date('2026-03-01T12:00:00Z');
const a = createCertificateAuthority({ commonName: 'ca-a', validityDays: 30, now });
const b = createCertificateAuthority({ commonName: 'ca-b', validityDays: 30, now });
const expired = createCertificateAuthority({ commonName: 'ca-old', validityDays: 1, now: new Date('2025-01-01T00:00:00Z') });
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('splitPemBundle', () => {
  it('finds every certificate block and ignores what surrounds them', () => {
    const blocks = splitPemBundle(`# comment\n${a.certPem}\n\n  ${b.certPem.trim()}garbage`);
    assert.equal(blocks.length, 2);
    assert.deepEqual(blocks.map(fingerprint), [fingerprint(a.certPem), fingerprint(b.certPem)]);
    assert.ok(blocks.every((block) => block.endsWith('-----END CERTIFICATE-----\n')));
  });

  it('finds nothing in text without certificates', () => {
    assert.deepEqual(splitPemBundle('not a bundle'), []);
  });
});

describe('mergeCaBundles', () => {
  it('keeps the order of first appearance and each certificate once', () => {
    const merged = mergeCaBundles([`${a.certPem}${b.certPem}`, b.certPem, a.certPem]);
    assert.deepEqual(listBundleFingerprints(merged), [fingerprint(a.certPem), fingerprint(b.certPem)]);
    assert.equal(splitPemBundle(merged).length, 2);
  });

  it('recognises a duplicate by its fingerprint, not its text', () => {
    const reformatted = `${a.certPem.trim().replace(/\n/g, '\r\n')}\r\n`;
    assert.equal(splitPemBundle(mergeCaBundles([a.certPem, reformatted])).length, 1);
  });

  it('leaves out expired certificates when given a time, and dropped fingerprints', () => {
    assert.deepEqual(
      listBundleFingerprints(mergeCaBundles([expired.certPem, a.certPem, b.certPem], { now, drop: [fingerprint(b.certPem)] })),
      [fingerprint(a.certPem)],
    );
    assert.equal(splitPemBundle(mergeCaBundles([expired.certPem])).length, 1, 'no time: nothing is too old');
  });

  it('leaves out blocks that do not parse', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    assert.deepEqual(listBundleFingerprints(mergeCaBundles([broken, a.certPem])), [fingerprint(a.certPem)]);
  });
});

describe('isSameBundle', () => {
  it('ignores order and duplicates', () => {
    assert.equal(isSameBundle(`${a.certPem}${b.certPem}`, `${b.certPem}${a.certPem}${b.certPem}`), true);
  });

  it('sees a missing or extra CA', () => {
    assert.equal(isSameBundle(a.certPem, `${a.certPem}${b.certPem}`), false);
    assert.equal(isSameBundle(`${a.certPem}${b.certPem}`, a.certPem), false);
    assert.equal(isSameBundle('', a.certPem), false);
  });
});

describe('encodeCaBundle / decodeCaBundle', () => {
  it('round-trips the base64 form of a webhook caBundle', () => {
    assert.equal(decodeCaBundle(encodeCaBundle(a.certPem)), a.certPem);
    assert.equal(decodeCaBundle(undefined), '');
  });
});
