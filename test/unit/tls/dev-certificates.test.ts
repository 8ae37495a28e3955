import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCertificateAuthority } from '../../../src/tls/certificates.ts';
import { ensureDevCertificates } from '../../../src/tls/dev-certificates.ts';
import type { DevCertificateOptions } from '../../../src/tls/dev-certificates.ts';

const day = 24 * 60 * 60 * 1000;
const start = new Date('2026-03-01T00:00:00Z');
const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function createOptions(overrides: Partial<DevCertificateOptions> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'dev-certs-'));
  roots.push(root);
  const lines: Array<{ data: object; message: string }> = [];
  const options: DevCertificateOptions = {
    dir: join(root, 'certs'),
    serviceName: 'sandbox-admission',
    namespace: 'sandbox-system',
    now: start,
    log: { info: (data, message) => lines.push({ data, message }) },
    ...overrides,
  };
  return { options, lines };
}

describe('ensureDevCertificates', () => {
  it('creates a CA and a serving certificate for every local and in-cluster name', async () => {
    const { options, lines } = await createOptions();
    const result = await ensureDevCertificates(options);
    assert.equal(result.action, 'created');
    assert.deepEqual((await readdir(options.dir)).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    assert.equal(await readFile(result.paths.cert, 'utf8'), result.serving.certPem);
    assert.equal(await readFile(result.paths.caCert, 'utf8'), result.ca.certPem);

    const cert = new X509Certificate(result.serving.certPem);
    assert.ok(cert.verify(new X509Certificate(result.ca.certPem).publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(result.serving.keyPem)));
    for (const host of [
      'localhost',
      'sandbox-admission',
      'sandbox-admission.sandbox-system',
      'sandbox-admission.sandbox-system.svc',
      'sandbox-admission.sandbox-system.svc.cluster.local',
    ]) {
      assert.equal(cert.checkHost(host, { subject: 'never' }), host);
    }
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.deepEqual(
      lines.map((l) => l.message),
      ['created dev certificates'],
    );
  });

  it('writes private keys readable by the owner only', async () => {
    const { options } = await createOptions();
    const result = await ensureDevCertificates(options);
    assert.equal((await stat(result.paths.key)).mode & 0o777, 0o600);
    assert.equal((await stat(result.paths.caKey)).mode & 0o777, 0o600);
    assert.equal((await stat(result.paths.cert)).mode & 0o077 & 0o022, 0, 'certs are not group/world writable');
  });

  it('reuses certificates that are valid and cover the names', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    const second = await ensureDevCertificates({ ...options, now: new Date(start.getTime() + 30 * day) });
    assert.equal(second.action, 'reused');
    assert.deepEqual(second.ca, first.ca);
    assert.equal(second.serving.certPem, first.serving.certPem);
    assert.equal(second.serving.notAfter.getTime(), first.serving.notAfter.getTime());
    assert.equal(lines.at(-1)?.message, 'reusing dev certificates');
  });

  it('reissues only the serving certificate when it nears expiry, keeping the CA', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    const later = new Date(first.serving.notAfter.getTime() - 60 * 60 * 1000);
    const second = await ensureDevCertificates({ ...options, now: later });
    assert.equal(second.action, 'reissued-serving');
    assert.deepEqual(second.ca, first.ca);
    assert.notEqual(second.serving.certPem, first.serving.certPem);
    assert.ok(second.serving.notAfter > first.serving.notAfter);
    assert.equal(await readFile(second.paths.key, 'utf8'), second.serving.keyPem);
    assert.deepEqual(lines.at(-1)?.data, { dir: options.dir, reason: 'expiring', notAfter: second.serving.notAfter });
  });

  it('reissues the serving certificate when the service names change', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    const second = await ensureDevCertificates({ ...options, namespace: 'other-namespace' });
    assert.equal(second.action, 'reissued-serving');
    assert.deepEqual(second.ca, first.ca);
    const cert = new X509Certificate(second.serving.certPem);
    assert.ok(cert.checkHost('sandbox-admission.other-namespace.svc', { subject: 'never' }));
    assert.equal((lines.at(-1)?.data as { reason: string } | undefined)?.reason, 'missing-dns-name');
  });

  it('starts over when the CA has expired', async () => {
    const { options } = await createOptions();
    const first = await ensureDevCertificates(options);
    const second = await ensureDevCertificates({ ...options, now: new Date(start.getTime() + 3700 * day) });
    assert.equal(second.action, 'created');
    assert.notEqual(second.ca.certPem, first.ca.certPem);
  });

  it('replaces a serving certificate that another CA signed', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    const stranger = createCertificateAuthority({ commonName: 'stranger', validityDays: 10, now: start });
    // A CA certificate in tls.crt: valid, but not issued by ca.crt (and without the SANs).
    await writeFile(first.paths.cert, stranger.certPem);
    await writeFile(first.paths.key, stranger.keyPem);
    const second = await ensureDevCertificates(options);
    assert.equal(second.action, 'reissued-serving');
    assert.equal((lines.at(-1)?.data as { reason: string } | undefined)?.reason, 'not-signed-by-ca');
  });

  it('replaces a serving key that does not match its certificate', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    await writeFile(first.paths.key, first.ca.keyPem);
    const second = await ensureDevCertificates(options);
    assert.equal(second.action, 'reissued-serving');
    assert.equal((lines.at(-1)?.data as { reason: string } | undefined)?.reason, 'key-mismatch');
  });

  it('starts over when a CA file is missing or garbage, and restores key permissions', async () => {
    const { options, lines } = await createOptions();
    const first = await ensureDevCertificates(options);
    await rm(first.paths.caKey);
    assert.equal((await ensureDevCertificates(options)).action, 'created');
    assert.equal((lines.at(-1)?.data as { reason: string } | undefined)?.reason, 'missing');

    await writeFile(first.paths.caCert, 'not a certificate');
    await chmod(first.paths.key, 0o644);
    assert.equal((await ensureDevCertificates(options)).action, 'created');
    assert.equal((lines.at(-1)?.data as { reason: string } | undefined)?.reason, 'unreadable');
    assert.equal((await stat(first.paths.key)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(options.dir)).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'], 'no temp files left');
  });
});
