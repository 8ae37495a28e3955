// Issue 15: what `serve` loads is what it pays for in memory and start-up. The heaviest packages stay out of the
// serving process unless it needs them: @kubernetes/client-node (about 85 MiB of RSS when loaded) is never loaded
// by serve at all (in cluster mode it talks to the API through src/kube/), and node-forge (certificate generation)
// only for self-managed certificates.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeApiServer, writeKubeconfig, type FakeApiServer } from '../../../bench/fake-apiserver.ts';
import { startProcess } from '../../e2e/harness/process.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';
import { waitForLog } from '../../helpers/serve-process.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const HOOK = join(REPO, 'test/helpers/module-log-hook.ts');

/** The modules `serve` has loaded once it logs that it listens, then stopped. */
async function modulesLoadedBy(dir: string, name: string, args: readonly string[]): Promise<string[]> {
  const moduleLog = join(dir, `${name}.modules`);
  writeFileSync(moduleLog, '');
  const proc = startProcess(
    name,
    process.execPath,
    ['--import', HOOK, join(REPO, 'src/cli/main.ts'), 'serve', ...args],
    join(dir, `${name}.log`),
    { ...process.env, SANDBOX_ADMISSION_MODULE_LOG: moduleLog },
  );
  try {
    await waitForLog(proc, 'sandbox-admission listening', 30_000);
  } finally {
    await proc.stop();
  }
  return readFileSync(moduleLog, 'utf8').split('\n').filter(Boolean);
}

const packageOf = (url: string): string | undefined => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];

/** The module log saw the server's own stack (fastify), and none of the packages serve must not load. */
function assertNoHeavyPackages(modules: readonly string[]): void {
  const packages = new Set(modules.map(packageOf).filter((p) => p !== undefined));
  assert.ok(packages.has('fastify'), `the module log works (fastify seen): ${[...packages].join(', ')}`);
  for (const heavy of ['@kubernetes/client-node', 'node-forge', 'undici', 'ws'])
    assert.ok(
      !packages.has(heavy),
      `${heavy} was loaded: ${modules
        .filter((m) => packageOf(m) === heavy)
        .slice(0, 3)
        .join(', ')}`,
    );
}

describe('serve loads only what its mode needs', () => {
  let dir: string;
  let tlsArgs: string[];
  let api: FakeApiServer;
  let caPem: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-modules-'));
    const { ca, serving } = createLoopbackServing('modules-ca');
    caPem = ca.certPem;
    writeFileSync(join(dir, 'tls.crt'), serving.certPem);
    writeFileSync(join(dir, 'tls.key'), serving.keyPem, { mode: 0o600 });
    tlsArgs = ['--certificates', 'files', '--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')];
    api = await startFakeApiServer({ namespaces: 50, certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });
  });
  after(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('from files (no cluster): no Kubernetes client, no certificate generation', async () => {
    const modules = await modulesLoadedBy(dir, 'files', [
      ...tlsArgs,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--policy',
      join(REPO, 'manifests/base/policy.yaml'),
    ]);
    assertNoHeavyPackages(modules);
  });

  it('in cluster mode (--kubeconfig, informers, election, drift check): still no Kubernetes client package', async () => {
    const kubeconfig = join(dir, 'kubeconfig.json');
    writeKubeconfig(kubeconfig, api.url, caPem);
    const modules = await modulesLoadedBy(dir, 'cluster', [
      ...tlsArgs,
      '--kubeconfig',
      kubeconfig,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--audit-interval',
      '0',
      '--policy',
      join(REPO, 'manifests/base/policy.yaml'),
    ]);
    assert.ok(
      api.requests().some((r) => r.startsWith('GET /api/v1/namespaces?')),
      `it listed namespaces: ${api.requests().join(', ')}`,
    );
    assertNoHeavyPackages(modules);
  });
});
