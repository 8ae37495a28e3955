// Issue 10, item 5: every start-up failure exits non-zero within seconds, with the reason as the last log line,
// so the kubelet restarts the container (CrashLoopBackOff) instead of leaving a process that listens on nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import { exitWithin, jsonLines, startServeProcess } from '../../helpers/serve-process.ts';

const POLICY = fileURLToPath(new URL('../../../manifests/base/policy.yaml', import.meta.url));

describe('start-up failures exit non-zero', () => {
  let dir: string;
  let tlsArgs: string[];
  let squatter: Server;
  let busyPort: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-startup-'));
    const now = new Date();
    const ca = createCertificateAuthority({ commonName: 'startup-ca', validityDays: 1, now });
    const cert = createServingCertificate(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityDays: 1,
      now,
    });
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
    tlsArgs = [
      '--certificates',
      'files',
      '--tls-cert-file',
      join(dir, 'tls.crt'),
      '--tls-key-file',
      join(dir, 'tls.key'),
      '--host',
      '127.0.0.1',
      '--drain-delay',
      '0',
    ];
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    busyPort = (squatter.address() as { port: number }).port;
  });
  after(() => {
    squatter.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a busy port: exit 1 with EADDRINUSE in the last log line (the policy watcher used to keep it alive)', async () => {
    const proc = startServeProcess(dir, 'busy-port', [...tlsArgs, '--policy', POLICY, '--port', String(busyPort)]);
    assert.equal(await exitWithin(proc, 10_000), 1);
    const last = jsonLines(proc).at(-1)!;
    assert.equal(last['level'], 'fatal');
    assert.equal(last['msg'], 'start-up failed; exiting');
    assert.equal(last['code'], 'EADDRINUSE');
  });

  it('an invalid policy: exit 1 with every problem and its field path in the last log line', async () => {
    const bad = join(dir, 'bad-policy.yaml');
    writeFileSync(
      bad,
      'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec:\n  rules:\n    - {name: r, action: sandbox, runtime: firecracker}\n',
    );
    const proc = startServeProcess(dir, 'bad-policy', [...tlsArgs, '--policy', bad, '--port', '0']);
    assert.equal(await exitWithin(proc, 10_000), 1);
    const last = jsonLines(proc).at(-1)!;
    assert.equal(last['msg'], 'start-up failed; exiting');
    assert.match(String((last['err'] as { message: string }).message), /POLICY_REFERENCE at spec\.rules\[0\]\.runtime/);
  });

  it('an unreadable serving certificate: exit 1', async () => {
    const proc = startServeProcess(dir, 'no-cert', [
      '--certificates',
      'files',
      '--tls-cert-file',
      join(dir, 'missing.crt'),
      '--tls-key-file',
      join(dir, 'missing.key'),
      '--policy',
      POLICY,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
    ]);
    assert.equal(await exitWithin(proc, 10_000), 1);
    assert.equal(jsonLines(proc).at(-1)!['msg'], 'start-up failed; exiting');
  });
});
