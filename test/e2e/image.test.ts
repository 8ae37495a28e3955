// The Dockerfile, built and run as a user's cluster would run it, without a Docker daemon or a registry:
// Debian's buildah (vfs storage, chroot isolation, its own --root/--runroot in a temp dir) builds it FROM a local
// stand-in for node:26-slim (the Node 26 binary this project brings from npm, the machine's npm, Debian's libc and
// busybox: test/e2e/harness/build-image-tools.sh), with every npm package from a copy of the local npm cache
// (NPM_CONFIG_OFFLINE). The node suite's runc (built by build-node-binaries.sh; Debian's crun 1.8 refuses this
// machine's hybrid cgroup layout) then runs the image from an OCI bundle in the temp dir: as the image's non-root user, read-only
// root filesystem, no capabilities, no new privileges, a tmpfs /tmp as the Deployment mounts one; it serves one
// AdmissionReview over HTTPS on loopback (the container shares the host's network namespace, nothing else).
// Its size is printed (README, "The image").
//
// Needs root (buildah's chroot isolation, runc without a user namespace); skipped with the reason otherwise.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createLoopbackServing } from '../helpers/certificates.ts';
import { decodePatch, podReview } from '../helpers/reviews.ts';
import { isCI, isExecutable, parseScriptPaths, resolveBuilt } from './harness/binaries.ts';
import { freePort } from './harness/ports.ts';
import { startProcess, type ManagedProcess } from './harness/process.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NAMES = ['buildah', 'containers-policy', 'image-base'] as const;
const tools = resolveBuilt({
  script: fileURLToPath(new URL('./harness/build-image-tools.sh', import.meta.url)),
  names: NAMES,
  present: (p) => isExecutable(p.buildah) && existsSync(join(p['image-base'], 'bin/busybox')),
  what: 'buildah and the image base (Debian packages)',
  buildTimeoutMs: 10 * 60 * 1000,
});
const notRoot =
  process.getuid?.() !== 0
    ? 'image: SKIPPED - buildah (chroot isolation) and runc need root here; run as root to build and run the image'
    : undefined;
if (notRoot) process.stderr.write(`${notRoot}\n`);
const notNode26 = process.version.startsWith('v26.')
  ? undefined
  : `image: SKIPPED - the base image takes this Node binary, and it is ${process.version}, not 26`;
// runc as the node suite builds it (.ci/run's runtime lane, before this test); not built here, it takes minutes.
const runc = parseScriptPaths(
  'build-node-binaries.sh',
  execFileSync('bash', [fileURLToPath(new URL('./harness/build-node-binaries.sh', import.meta.url)), '--paths'], { encoding: 'utf8' }),
  ['runc'],
).runc;
const noRunc = isExecutable(runc)
  ? undefined
  : `image: SKIPPED - no runc at ${runc}; build it with bash test/e2e/harness/build-node-binaries.sh --runtime-only`;
if (noRunc && !tools.skip) (isCI() ? assert.fail : (m: string) => process.stderr.write(`${m}\n`))(noRunc);
const skip = tools.skip ?? notRoot ?? notNode26 ?? noRunc ?? false;

type ImageConfig = { User?: string; Env: string[]; Entrypoint: string[]; Cmd?: string[]; WorkingDir?: string };
const IMAGE = 'localhost/sandbox-admission:test';
const BASE = 'localhost/sandbox-admission-base:node26';

describe('the Dockerfile: built with buildah, run with runc, non-root and read-only', { skip, timeout: 30 * 60 * 1000 }, () => {
  let dir: string;
  let buildah: (...args: string[]) => string;
  let container: string | undefined;
  let runcRoot: string;
  let server: ManagedProcess | undefined;
  /** The image's OCI config (buildah 1.28's --format has no json function: the whole inspect output, then the part). */
  const imageConfig = () => (JSON.parse(buildah('inspect', '--type', 'image', IMAGE)) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
  const runcCmd = (...args: string[]) => spawnSync(runc, ['--root', runcRoot, ...args], { encoding: 'utf8', timeout: 60_000 });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-image-'));
    runcRoot = join(dir, 'runc');
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    buildah = (...args: string[]) => {
      const r = spawnSync(
        tools.paths!.buildah,
        ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args],
        {
          encoding: 'utf8',
          timeout: 25 * 60 * 1000,
          maxBuffer: 64 * 1024 * 1024,
          // Only this temp dir's configuration: no registry is searched, no user or system storage is touched.
          env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'), TMPDIR: dir },
        },
      );
      assert.equal(r.status, 0, `buildah ${args.join(' ')}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
      return r.stdout.trim();
    };
  });

  after(() => {
    if (server && !server.hasExited()) runcCmd('kill', 'sandbox-admission-test', 'KILL');
    runcCmd('delete', '--force', 'sandbox-admission-test');
    if (container)
      spawnSync(tools.paths!.buildah, [
        '--root',
        join(dir, 'storage'),
        '--runroot',
        join(dir, 'run'),
        '--storage-driver',
        'vfs',
        'rm',
        container,
      ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds FROM a local Node 26 base with no registry and the npm cache offline', () => {
    // The base: what node:26-slim offers the Dockerfile (Node in /usr/local/bin, npm beside it, a shell, libc).
    const root = join(dir, 'base');
    cpSync(tools.paths!['image-base'], root, { recursive: true, verbatimSymlinks: true });
    for (const applet of execFileSync(join(root, 'bin/busybox'), ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      if (!existsSync(join(root, 'bin', applet))) symlinkSync('busybox', join(root, 'bin', applet));
    }
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('../../bin/busybox', join(root, 'usr/bin/env')); // npm's #!/usr/bin/env node
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    cpSync(process.execPath, join(root, 'usr/local/bin/node'));
    // npm itself, from the npm on PATH (bin/npm-cli.js inside its package).
    const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    cpSync(dirname(dirname(npmCli)), join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    mkdirSync(join(root, 'root'));
    mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
    const policy = ['--signature-policy', tools.paths!['containers-policy']];
    const base = buildah('from', ...policy, 'scratch');
    buildah('copy', base, `${root}/`, '/');
    buildah('config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', '--env', 'HOME=/root', '--cmd', 'node', base);
    buildah('commit', ...policy, '--rm', base, BASE);

    // Every package from a copy of this machine's npm cache (npm ci writes into its cache).
    const npmCache = join(dir, 'npm-cache');
    cpSync(execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim(), npmCache, {
      recursive: true,
      filter: (src) => !src.includes('/_logs'),
    });
    const start = Date.now();
    buildah(
      'bud',
      ...policy,
      '--pull=never',
      '--isolation',
      'chroot',
      '--layers=false',
      '--build-arg',
      `NODE_IMAGE=${BASE}`,
      '--build-arg',
      'NPM_CONFIG_OFFLINE=true',
      '--volume',
      `${npmCache}:/root/.npm`,
      '--tag',
      IMAGE,
      '--file',
      join(REPO, 'Dockerfile'),
      REPO,
    );
    process.stderr.write(`[image] buildah bud: ${((Date.now() - start) / 1000).toFixed(0)}s\n`);

    const config = imageConfig();
    assert.equal(config.User, '65532:65532', 'the uid/gid the Deployment runs as');
    assert.deepEqual(config.Entrypoint, ['node', '/app/dist/cli/main.js']);
    assert.deepEqual(config.Cmd, ['serve', '--cluster']);
    // Sizes: the layers as stored (uncompressed tar), and the image as a registry would serve it (gzip layers).
    const manifest = JSON.parse((JSON.parse(buildah('inspect', '--type', 'image', IMAGE)) as { Manifest: string }).Manifest) as {
      layers: Array<{ size: number }>;
    };
    const layers = manifest.layers.map((l) => l.size);
    const archive = join(dir, 'image.tar');
    buildah('push', ...policy, '--compression-format', 'gzip', IMAGE, `oci-archive:${archive}`);
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    const total = layers.reduce((a, b) => a + b, 0);
    process.stderr.write(
      `[image] size: ${mb(total)} uncompressed (base layer ${mb(layers[0]!)}, the server's own layer ${mb(layers.at(-1)!)}), ${mb(statSync(archive).size)} as gzip-compressed OCI archive\n`,
    );
    assert.equal(layers.length, 2, 'the base and one layer of the runtime stage (buildah --layers=false)');
    assert.ok(layers.at(-1)! < 100e6, `the server's own layer is ${layers.at(-1)} bytes: production dependencies only`);
  });

  it('runs as 65532 on a read-only root filesystem and answers an AdmissionReview over HTTPS', async () => {
    container = buildah('from', '--pull=never', '--signature-policy', tools.paths!['containers-policy'], IMAGE);
    const rootfs = buildah('mount', container);
    const rootfsEntries = readdirSync(join(rootfs, 'usr/local/bin'));
    assert.deepEqual(rootfsEntries, ['node'], 'npm, npx and corepack are removed from the runtime image');

    const { ca, serving } = createLoopbackServing('sandbox-admission image test CA');
    const certs = join(dir, 'certs');
    mkdirSync(certs);
    writeFileSync(join(certs, 'tls.crt'), serving.certPem);
    writeFileSync(join(certs, 'tls.key'), serving.keyPem, { mode: 0o644 });
    const port = await freePort();
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    const config = imageConfig();
    const spec = {
      ociVersion: '1.0.2',
      process: {
        terminal: false,
        user: { uid: 65532, gid: 65532 },
        // The Deployment's way: args replace CMD; certificates from files (as with cert-manager), policy from the image.
        args: [
          ...config.Entrypoint,
          'serve',
          '--certificates=files',
          '--tls-cert-file=/etc/sandbox-admission-tls/tls.crt',
          '--tls-key-file=/etc/sandbox-admission-tls/tls.key',
          '--policy=/etc/sandbox-admission/policy.yaml',
          '--host=127.0.0.1',
          `--port=${port}`,
          '--drain-delay=0s',
        ],
        // Node's compile-cache debug lines, read back below: the bundle's shipped V8 cache must be used.
        env: [...config.Env, 'NODE_DEBUG_NATIVE=COMPILE_CACHE'],
        cwd: config.WorkingDir || '/',
        capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
        noNewPrivileges: true,
      },
      root: { path: rootfs, readonly: true },
      hostname: 'sandbox-admission',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=16m', 'mode=1777'] },
        { destination: '/etc/sandbox-admission-tls', type: 'bind', source: certs, options: ['rbind', 'ro'] },
        { destination: '/etc/sandbox-admission', type: 'bind', source: join(REPO, 'manifests/base'), options: ['rbind', 'ro'] },
      ],
      linux: {
        // No network namespace: the server listens on the host's loopback, where this test dials it.
        namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }],
        maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list'],
        readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
      },
    };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    mkdirSync(runcRoot);
    server = startProcess(
      'runc',
      runc,
      ['--root', runcRoot, 'run', '--bundle', bundle, 'sandbox-admission-test'],
      join(dir, 'container.log'),
    );

    const post = (path: string, body?: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path,
            method: body ? 'POST' : 'GET',
            ca: ca.certPem,
            servername: 'localhost',
            headers: { 'content-type': 'application/json' },
            timeout: 5000,
          },
          (res) => {
            let data = '';
            res.on('data', (c) => (data += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
          },
        );
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end(body ? JSON.stringify(body) : undefined);
      });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await post('/healthz').catch(() => undefined);
      if (r?.status === 200) break;
      assert.ok(
        !server.hasExited(),
        `the container exited: ${execFileSync('tail', ['-n', '40', join(dir, 'container.log')], { encoding: 'utf8' })}`,
      );
      assert.ok(Date.now() < deadline, 'the server in the container never answered /healthz');
      await new Promise((r) => setTimeout(r, 250));
    }

    const review = podReview({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', labels: { app: 'untrusted' } },
      spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] },
    });
    const r = await post('/mutate', review);
    assert.equal(r.status, 200, r.body);
    const response = (JSON.parse(r.body) as { response: { allowed: boolean; patch?: string } }).response;
    assert.equal(response.allowed, true);
    assert.ok(
      decodePatch(response).some(
        (op) => JSON.stringify(op) === JSON.stringify({ op: 'add', path: '/spec/runtimeClassName', value: 'gvisor' }),
      ),
      JSON.stringify(decodePatch(response)),
    );

    // Inside the running container: the user, and a root filesystem that refuses writes (but /tmp takes them).
    const id = runcCmd('exec', 'sandbox-admission-test', 'id', '-u');
    assert.equal(id.stdout.trim(), '65532', id.stderr);
    const write = runcCmd('exec', 'sandbox-admission-test', 'touch', '/app/written');
    assert.notEqual(write.status, 0);
    assert.match(write.stderr + write.stdout, /Read-only file system/);
    assert.equal(runcCmd('exec', 'sandbox-admission-test', 'touch', '/tmp/written').status, 0);

    // SIGTERM: the server drains and exits 0, as on a pod's deletion.
    runcCmd('kill', 'sandbox-admission-test', 'TERM');
    const code = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    assert.equal(code, 0, execFileSync('tail', ['-n', '20', join(dir, 'container.log')], { encoding: 'utf8' }));

    // The V8 code cache `npm run build` wrote in the build stage is read as uid 65532 from the read-only image,
    // so the 1.6 MB serve chunk is not compiled again at every start of a pod.
    const log = readFileSync(join(dir, 'container.log'), 'utf8');
    assert.match(log, /V8 code cache for ESM file:\/\/\/app\/dist\/cli\/serve-\w+\.js was accepted/, log.slice(0, 4000));
  });
});
