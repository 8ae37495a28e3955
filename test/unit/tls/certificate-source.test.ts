import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import { isCertificateValid, resolveCertificateMode } from '../../../src/tls/certificate-source.ts';

const none = { dev: false, cluster: false };

describe('resolveCertificateMode', () => {
  it('is self-managed in a cluster, files with certificate files, dev with --dev', () => {
    assert.equal(resolveCertificateMode({ ...none, cluster: true }), 'self-managed');
    assert.equal(resolveCertificateMode({ ...none, kubeconfig: '/kubeconfig' }), 'self-managed');
    assert.equal(resolveCertificateMode({ ...none, cluster: true, tlsCertFile: 'tls.crt', tlsKeyFile: 'tls.key' }), 'files');
    assert.equal(resolveCertificateMode({ ...none, dev: true, cluster: true }), 'dev');
  });

  it('takes an explicit --certificates over everything', () => {
    assert.equal(resolveCertificateMode({ ...none, dev: true, certificates: 'self-managed' }), 'self-managed');
    assert.equal(resolveCertificateMode({ ...none, cluster: true, certificates: 'files', tlsCertFile: 'c', tlsKeyFile: 'k' }), 'files');
  });

  it('refuses contradictions and a missing source', () => {
    assert.throws(() => resolveCertificateMode({ ...none, certificates: 'self-managed', tlsCertFile: 'c' }), /drop --tls-cert-file/);
    assert.throws(() => resolveCertificateMode({ ...none, certificates: 'vault' }), /must be one of/);
    assert.throws(() => resolveCertificateMode(none), /no serving certificate/);
  });
});

describe('isCertificateValid (CertificateSource.healthy)', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const ca = createCertificateAuthority({ commonName: 'ca', validityDays: 10, now });
  const serving = createServingCertificate(ca, { commonName: 'svc', dnsNames: ['svc'], ipAddresses: [], validityDays: 1, now });
  const material = { cert: serving.certPem, key: serving.keyPem };
  it('is true within the validity period and false after it', () => {
    assert.equal(isCertificateValid(material, new Date(now.getTime() + 60_000)), true);
    assert.equal(isCertificateValid(material, new Date(now.getTime() + 2 * 86_400_000)), false);
  });
  it('is false for material that does not parse', () => {
    assert.equal(isCertificateValid({ cert: 'not a certificate', key: '' }, now), false);
  });
});
