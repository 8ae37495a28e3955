import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCertificateAuthority } from '../../../src/tls/certificates.ts';
import { applyRotationStep } from '../../../src/tls/rotation-steps.ts';

const now = new Date('2026-03-01T12:00:00Z');

describe('certificate common names', () => {
  // The e2e suite found this: kube-apiserver refused "sandbox-admission-ca@1767225600" with
  // "x509: invalid RDNSequence: invalid attribute value: invalid PrintableString".
  it('refuses characters a PrintableString cannot hold, which Go would reject', () => {
    for (const commonName of ['ca@1767225600', 'my_ca', 'café']) {
      assert.throws(() => createCertificateAuthority({ commonName, validityDays: 1, now }), /PrintableString/);
    }
    assert.doesNotThrow(() => createCertificateAuthority({ commonName: "Sandbox CA (test) 1.0: a-b/c,d+e='f'?", validityDays: 1, now }));
  });

  it('names self-managed CAs with their issue time, in PrintableString characters', () => {
    const material = applyRotationStep({ kind: 'create', reason: 'missing' }, { kind: 'absent' }, undefined, now, {
      caName: 'sandbox-admission-ca',
      commonName: 'sandbox-admission.ns.svc',
      dnsNames: ['sandbox-admission.ns.svc'],
      ipAddresses: [],
      caValidityDays: 10,
      servingValidityDays: 1,
    });
    assert.equal(new X509Certificate(material.caBundlePem).subject, `CN=sandbox-admission-ca-${now.getTime() / 1000}`);
  });
});
