import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { KubeConfigError, loadClusterConnection, type ClusterConnection } from '../../../src/kube/kube-config.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'dev',
    clusters: [{ name: 'dev', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority-data': b64('CA PEM') } }],
    users: [{ name: 'dev', user: { token: 'secret-token' } }],
    contexts: [{ name: 'dev', context: { cluster: 'dev', user: 'dev' } }],
    ...overrides,
  };
}

describe('loadClusterConnection', () => {
  let dir: string;
  const write = (name: string, config: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof config === 'string' ? config : stringify(config));
    return path;
  };
  const load = (options: Parameters<typeof loadClusterConnection>[0]) =>
    Promise.resolve(loadClusterConnection({ env: {}, home: dir, ...options }));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kube-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads inline data and a token; the server loses its trailing slash', async () => {
    const c = await load({ path: write('inline.yaml', kubeconfig()) });
    assert.equal(c.server, 'https://127.0.0.1:6443');
    assert.match(c.source, /inline\.yaml \(context dev\)/);
    const o = await c.requestOptions();
    assert.equal(String(o.ca), 'CA PEM');
    assert.deepEqual(o.headers, { Authorization: 'Bearer secret-token' });
  });

  it('reads certificate files relative to the kubeconfig, and TLS options', async () => {
    mkdirSync(join(dir, 'pki'), { recursive: true });
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA FILE');
    writeFileSync(join(dir, 'pki', 'client.crt'), 'CERT FILE');
    writeFileSync(join(dir, 'pki', 'client.key'), 'KEY FILE');
    const path = write(
      'files.yaml',
      kubeconfig({
        clusters: [
          {
            name: 'dev',
            cluster: {
              server: 'https://api:6443',
              'certificate-authority': 'pki/ca.crt',
              'tls-server-name': 'kubernetes',
              'insecure-skip-tls-verify': true,
            },
          },
        ],
        users: [{ name: 'dev', user: { 'client-certificate': 'pki/client.crt', 'client-key': join(dir, 'pki', 'client.key') } }],
      }),
    );
    const o = await (await load({ path })).requestOptions();
    assert.deepEqual(
      { ca: String(o.ca), cert: String(o.cert), key: String(o.key), servername: o.servername, rejectUnauthorized: o.rejectUnauthorized },
      { ca: 'CA FILE', cert: 'CERT FILE', key: 'KEY FILE', servername: 'kubernetes', rejectUnauthorized: false },
    );
    assert.deepEqual(o.headers, {});
  });

  it('basic auth and --context', async () => {
    const path = write(
      'two.yaml',
      kubeconfig({
        users: [
          { name: 'dev', user: { token: 't' } },
          { name: 'ops', user: { username: 'admin', password: 'pw' } },
        ],
        contexts: [
          { name: 'dev', context: { cluster: 'dev', user: 'dev' } },
          { name: 'ops', context: { cluster: 'dev', user: 'ops' } },
        ],
      }),
    );
    const o = await (await load({ path, context: 'ops' })).requestOptions();
    assert.equal(o.headers.Authorization, `Basic ${b64('admin:pw')}`);
  });

  it('merges KUBECONFIG files: the first to name an entry or a current-context wins', async () => {
    const first = write('first.yaml', { users: [{ name: 'dev', user: { token: 'from-first' } }], 'current-context': 'dev' });
    const second = write('second.yaml', kubeconfig({ 'current-context': 'other' }));
    const c = await load({ env: { KUBECONFIG: `${first}:${join(dir, 'missing.yaml')}:${second}` } });
    assert.equal(c.server, 'https://127.0.0.1:6443');
    assert.equal((await c.requestOptions()).headers.Authorization, 'Bearer from-first');
  });

  it('re-reads a token file once it may have rotated', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'one\n');
    let now = 0;
    const c: ClusterConnection = await load({
      path: write('token-file.yaml', kubeconfig({ users: [{ name: 'dev', user: { tokenFile } }] })),
      now: () => now,
    });
    assert.equal((await c.requestOptions()).headers.Authorization, 'Bearer one');
    writeFileSync(tokenFile, 'two\n');
    utimesSync(tokenFile, new Date(), new Date(Date.now() + 5000));
    now = 30_000;
    assert.equal((await c.requestOptions()).headers.Authorization, 'Bearer one', 'not read again within a minute');
    now = 61_000;
    assert.equal((await c.requestOptions()).headers.Authorization, 'Bearer two');
  });

  it('falls back to the in-cluster service account, re-reading its token', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), 'CLUSTER CA');
    const c = await load({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      home: join(dir, 'no-home'),
      serviceAccountDir: sa,
    });
    assert.equal(c.server, 'https://[fd00::1]:443');
    assert.equal(c.source, 'in-cluster service account');
    const o = await c.requestOptions();
    assert.deepEqual([String(o.ca), o.headers.Authorization], ['CLUSTER CA', 'Bearer sa-token']);
  });

  it('an exec credential plugin is run through @kubernetes/client-node, its token sent as the bearer', async () => {
    const plugin = join(dir, 'credential-plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
      { mode: 0o755 },
    );
    const path = write(
      'exec.yaml',
      kubeconfig({
        users: [
          { name: 'dev', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } } },
        ],
      }),
    );
    const c = await load({ path });
    assert.match(c.source, /credentials from its plugin/);
    const o = await c.requestOptions();
    assert.equal(o.headers.Authorization, 'Bearer from-plugin');
    assert.equal(String(o.ca), 'CA PEM');
  });

  it('says what is wrong, naming the file and the entry', async () => {
    const tokenOnlyServiceAccount = () => {
      const sa = join(dir, 'sa-without-ca');
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, 'token'), 'sa-token');
      return sa;
    };
    const cases: Array<[string, Parameters<typeof loadClusterConnection>[0], RegExp]> = [
      [
        'nothing anywhere',
        { home: join(dir, 'nowhere'), serviceAccountDir: join(dir, 'nowhere') },
        /no kubeconfig found .* and not in a cluster/,
      ],
      ['KUBECONFIG of missing files', { env: { KUBECONFIG: join(dir, 'gone.yaml') } }, /KUBECONFIG names no file that exists/],
      ['not YAML', { path: write('bad.yaml', 'clusters: [\n') }, /bad\.yaml: cannot read the kubeconfig/],
      [
        'no current context',
        { path: write('nocur.yaml', kubeconfig({ 'current-context': '' })) },
        /no current-context; name one with --context/,
      ],
      ['unknown context', { path: write('ctx.yaml', kubeconfig()), context: 'prod' }, /no context named "prod"/],
      [
        'dangling cluster',
        { path: write('dangling.yaml', kubeconfig({ contexts: [{ name: 'dev', context: { cluster: 'gone', user: 'dev' } }] })) },
        /context "dev" names cluster "gone", which is not defined/,
      ],
      [
        'plain http',
        { path: write('http.yaml', kubeconfig({ clusters: [{ name: 'dev', cluster: { server: 'http://api:8080' } }] })) },
        /server http:\/\/api:8080 is not https:\/\//,
      ],
      [
        'missing certificate file',
        {
          path: write(
            'nocert.yaml',
            kubeconfig({ users: [{ name: 'dev', user: { 'client-certificate': 'absent.crt', 'client-key': 'absent.key' } }] }),
          ),
        },
        /user "dev": cannot read client-certificate .*absent\.crt: ENOENT/,
      ],
      [
        'certificate without key',
        { path: write('halfcert.yaml', kubeconfig({ users: [{ name: 'dev', user: { 'client-certificate-data': b64('C') } }] })) },
        /a client certificate without a key/,
      ],
      [
        'in-cluster without its CA',
        {
          env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
          home: join(dir, 'nowhere'),
          serviceAccountDir: tokenOnlyServiceAccount(),
        },
        /in-cluster service account: cannot read the cluster CA .*ca\.crt: ENOENT/,
      ],
    ];
    for (const [name, options, message] of cases) {
      await assert.rejects(load(options), (error: Error) => {
        assert.ok(error instanceof KubeConfigError, `${name}: ${error.name}`);
        assert.match(error.message, message, name);
        return true;
      });
    }
  });
});
