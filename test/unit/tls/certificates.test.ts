import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import forge from 'node-forge';
import { createCertificateAuthority, createServingCertificate, describeCertificate } from '../../../src/tls/certificates.ts';

const now = new Date('2026-03-01T12:00:00.500Z');
const serverAuthOid = '1.3.6.1.5.5.7.3.1';

// One CA and one serving cert for the read-only assertions: key generation is cheap but not free.
const ca = createCertificateAuthority({ commonName: 'sandbox-admission-ca', validityDays: 3650, now });
const serving = createServingCertificate(ca, {
  commonName: 'sandbox-admission.sandbox-system.svc',
  dnsNames: ['localhost', 'sandbox-admission', 'sandbox-admission.sandbox-system.svc'],
  ipAddresses: ['127.0.0.1', '::1'],
  validityDays: 90,
  now,
});

function readExtension<T>(pem: string, name: string): T {
  return forge.pki.certificateFromPem(pem).getExtension(name) as T;
}

describe('createCertificateAuthority', () => {
  it('makes a self-signed CA certificate with a matching private key', () => {
    const x509 = new X509Certificate(ca.certPem);
    assert.equal(x509.ca, true);
    assert.equal(x509.subject, 'CN=sandbox-admission-ca');
    assert.equal(x509.issuer, x509.subject);
    assert.ok(x509.verify(x509.publicKey));
    assert.ok(x509.checkPrivateKey(createPrivateKey(ca.keyPem)));
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('restricts the CA key to signing certificates and CRLs', () => {
    const usage = readExtension<Record<string, unknown>>(ca.certPem, 'keyUsage');
    assert.equal(usage['critical'], true);
    assert.equal(usage['keyCertSign'], true);
    assert.equal(usage['cRLSign'], true);
    assert.equal(usage['keyEncipherment'], false);
    const constraints = readExtension<Record<string, unknown>>(ca.certPem, 'basicConstraints');
    assert.equal(constraints['cA'], true);
    assert.equal(constraints['critical'], true);
  });

  it('uses a 2048-bit RSA key and a sha256 signature', () => {
    const key = createPublicKey(ca.certPem);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    const cert = forge.pki.certificateFromPem(ca.certPem);
    assert.equal(forge.pki.oids[cert.siginfo.algorithmOid], 'sha256WithRSAEncryption');
  });

  it('back-dates notBefore for clock skew and ends validityDays after now', () => {
    const x509 = new X509Certificate(ca.certPem);
    assert.ok(x509.validFromDate.getTime() < now.getTime() - 60_000);
    assert.ok(x509.validFromDate.getTime() >= now.getTime() - 60 * 60_000);
    assert.equal(x509.validToDate.getTime(), Date.parse('2036-02-27T12:00:00Z'));
    assert.equal(ca.notAfter.getTime(), x509.validToDate.getTime());
  });

  it('gives every certificate a random positive serial number', () => {
    const serials = [ca, serving].map((b) => new X509Certificate(b.certPem).serialNumber);
    for (const serial of serials) {
      assert.notEqual(serial, '01');
      assert.ok(serial.length >= 32, `serial ${serial} is too short`);
      assert.ok(Number.parseInt(serial.slice(0, 2), 16) < 0x80, 'serial must be positive');
    }
    assert.notEqual(serials[0], serials[1]);
  });

  it('rejects nonsense validity and names', () => {
    assert.throws(() => createCertificateAuthority({ commonName: 'x', validityDays: 0, now }), /validityDays/);
    assert.throws(() => createCertificateAuthority({ commonName: '', validityDays: 1, now }), /commonName/);
    assert.throws(() => createCertificateAuthority({ commonName: 'a'.repeat(65), validityDays: 1, now }), /commonName/);
  });
});

describe('createServingCertificate', () => {
  it('is signed by the CA and is not itself a CA', () => {
    const x509 = new X509Certificate(serving.certPem);
    const caX509 = new X509Certificate(ca.certPem);
    assert.equal(x509.ca, false);
    assert.ok(x509.verify(caX509.publicKey));
    assert.ok(x509.checkIssued(caX509));
    assert.ok(x509.checkPrivateKey(createPrivateKey(serving.keyPem)));
    const other = createCertificateAuthority({ commonName: 'other', validityDays: 1, now });
    assert.equal(x509.verify(new X509Certificate(other.certPem).publicKey), false);
  });

  it('covers every DNS name and IP address, and nothing else', () => {
    const x509 = new X509Certificate(serving.certPem);
    for (const host of ['localhost', 'sandbox-admission', 'sandbox-admission.sandbox-system.svc']) {
      assert.equal(x509.checkHost(host), host);
    }
    assert.equal(x509.checkHost('evil.example.com'), undefined);
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x509.checkIP('::1'), '::1');
    assert.equal(x509.checkIP('10.0.0.1'), undefined);
  });

  it('is usable only for TLS server authentication', () => {
    assert.deepEqual(new X509Certificate(serving.certPem).keyUsage, [serverAuthOid]);
    const usage = readExtension<Record<string, unknown>>(serving.certPem, 'keyUsage');
    assert.equal(usage['digitalSignature'], true);
    assert.equal(usage['keyEncipherment'], true);
    assert.equal(usage['keyCertSign'], false);
    assert.equal(readExtension<Record<string, unknown>>(serving.certPem, 'basicConstraints')['cA'], false);
  });

  it('links its authorityKeyIdentifier to the CA subjectKeyIdentifier', () => {
    const caSki = readExtension<{ subjectKeyIdentifier: string }>(ca.certPem, 'subjectKeyIdentifier');
    const leaf = forge.pki.certificateFromPem(serving.certPem);
    const aki = leaf.getExtension('authorityKeyIdentifier') as { value: string };
    // The extension value is a SEQUENCE whose [0] element is the key identifier.
    const seq = forge.asn1.fromDer(aki.value);
    const keyIdentifier = (seq.value as forge.asn1.Asn1[])[0]?.value as string;
    assert.equal(forge.util.bytesToHex(keyIdentifier), caSki.subjectKeyIdentifier);
    assert.ok(readExtension<unknown>(serving.certPem, 'subjectKeyIdentifier'));
    assert.equal(new X509Certificate(serving.certPem).issuer, 'CN=sandbox-admission-ca');
  });

  it('refuses malformed SANs instead of encoding them', () => {
    const base = { commonName: 'x', validityDays: 1, now };
    assert.throws(() => createServingCertificate(ca, { ...base, dnsNames: [], ipAddresses: ['not-an-ip'] }), /IP/);
    assert.throws(() => createServingCertificate(ca, { ...base, dnsNames: ['a b'], ipAddresses: [] }), /DNS/);
    assert.throws(() => createServingCertificate(ca, { ...base, dnsNames: [], ipAddresses: [] }), /at least one/);
  });
});

describe('describeCertificate', () => {
  it('reads back validity and SANs', () => {
    const description = describeCertificate(serving.certPem);
    assert.equal(description.commonName, 'sandbox-admission.sandbox-system.svc');
    assert.deepEqual(description.dnsNames, ['localhost', 'sandbox-admission', 'sandbox-admission.sandbox-system.svc']);
    assert.deepEqual(description.ipAddresses, ['127.0.0.1', '::1']);
    assert.equal(description.notAfter.getTime(), serving.notAfter.getTime());
    assert.equal(description.notAfter.toISOString(), '2026-05-30T12:00:00.000Z');
    assert.ok(description.notBefore < now);
  });

  it('reports no SANs for a CA', () => {
    const description = describeCertificate(ca.certPem);
    assert.deepEqual(description.dnsNames, []);
    assert.deepEqual(description.ipAddresses, []);
  });
});
