// Issue 10, item 7: TLS 1.3 preferred, TLS 1.2 only with forward-secret (ECDHE) suites, also after a rotation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ConnectionOptions, connect, getCiphers, type TLSSocket } from 'node:tls';
import { buildServer, listen, type AdmissionServer } from '../../../src/admission/server.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';

const now = new Date();
const ca = createCertificateAuthority({ commonName: 'tls-suites-ca', validityDays: 2, now });
const issue = () =>
  createServingCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1, now });

type Handshake = { ok: true; protocol: string; cipher: string } | { ok: false; error: string };

function handshake(port: number, options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    let socket: TLSSocket;
    try {
      socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost', ...options });
    } catch (error) {
      // The client's own OpenSSL cannot offer this suite at all (disabled at its security level).
      resolve({ ok: false, error: (error as Error).message });
      return;
    }
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.once('secureConnect', () => {
      const cipher = socket.getCipher();
      resolve({ ok: true, protocol: socket.getProtocol() ?? '', cipher: cipher.name });
      socket.end();
    });
    socket.once('error', (error) => resolve({ ok: false, error: error.message }));
  });
}

describe('TLS versions and suites the admission server accepts', () => {
  let server: AdmissionServer;
  let port: number;
  const first = issue();
  const tls = createSwappableTlsSource({ key: first.keyPem, cert: first.certPem });
  before(async () => {
    const logger = createLogger({ level: 'silent' });
    server = buildServer({
      logger,
      metrics: createMetrics(),
      readiness: () => ({ ready: true }),
      tls,
      handleReview: () => ({ kind: 'bad-request', status: 400, code: 'REVIEW_NO_UID', message: 'x' }),
    });
    ({ port } = await listen(server, { host: '127.0.0.1', port: 0 }));
  });
  after(async () => {
    await server.close();
  });

  const tls12Suites = getCiphers()
    .filter((name) => !name.startsWith('tls_'))
    .map((name) => name.toUpperCase());

  async function acceptedTls12Suites(): Promise<string[]> {
    const accepted: string[] = [];
    for (const suite of tls12Suites) {
      const result = await handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: suite });
      if (result.ok) accepted.push(result.cipher);
    }
    return accepted.sort();
  }

  async function checkAll(): Promise<void> {
    const preferred = await handshake(port, {});
    assert.deepEqual(preferred.ok && [preferred.protocol], ['TLSv1.3'], 'a client offering 1.3 gets 1.3');
    // The certificate is RSA: of the ECDHE list, the RSA-authenticated suites are the ones that can be chosen.
    assert.deepEqual(await acceptedTls12Suites(), [
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ]);
    for (const suite of ['AES128-GCM-SHA256', 'AES256-SHA', 'DHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']) {
      const result = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: suite });
      assert.equal(result.ok, false, `${suite} (no forward secrecy or no AEAD) must be refused`);
    }
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const result = await handshake(port, { minVersion: version, maxVersion: version, ciphers: 'ALL:@SECLEVEL=0' });
      assert.equal(result.ok, false, `${version} must be refused`);
    }
    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
      const result = await handshake(port, { minVersion: 'TLSv1.3', ciphers: suite });
      assert.deepEqual(result.ok && [result.protocol, result.cipher], ['TLSv1.3', suite]);
    }
  }

  it('prefers TLS 1.3, offers TLS 1.2 only with ECDHE AEAD suites, refuses older versions', async () => {
    assert.ok(tls12Suites.length > 20, 'the client knows enough suites for the test to mean something');
    await checkAll();
  });

  it('keeps exactly the same restrictions after a certificate rotation (setSecureContext replaces the context)', async () => {
    const next = issue();
    tls.set({ key: next.keyPem, cert: next.certPem });
    await checkAll();
  });
});
