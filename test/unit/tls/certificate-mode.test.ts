import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveCertificateMode } from '../../../src/cli/serve-certificates.ts';

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
