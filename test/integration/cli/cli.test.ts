// The binary as a user runs it: version, usage errors (always exit 2, one line) and an old Node.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { KUBERNETES_TESTED_VERSION } from '../../../src/cli/version.ts';
import { isOneLine, REPO_ROOT, runBinary } from '../../helpers/cli.ts';

const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string; engines: { node: string } };

describe('sandbox-admission --version / version', () => {
  for (const args of [['--version'], ['-V'], ['version']]) {
    test(`${args.join(' ')} prints the package version and the Kubernetes versions, exit 0`, () => {
      const run = runBinary(args);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      assert.match(run.stdout, new RegExp(`^sandbox-admission ${pkg.version.replace(/\./g, '\\.')}\n`));
      assert.match(
        run.stdout,
        /^kubernetes: tested with kube-apiserver v1\.\d+\.\d+; needs 1\.34 or newer \(1\.30 for manifests\/base alone\)$/m,
      );
    });
  }

  test('the Kubernetes version it names is the one the e2e suite builds', () => {
    const goMod = readFileSync(`${REPO_ROOT}/tools/k8s/go.mod`, 'utf8');
    assert.match(goMod, new RegExp(`^\\s*k8s\\.io/kubernetes ${KUBERNETES_TESTED_VERSION.replace(/\./g, '\\.')}\\b`, 'm'));
  });
});

describe('usage errors: one line on stderr, exit 2 (1 means "would be denied")', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'an invalid --log-level names the accepted values',
      ['serve', '--log-level', 'loud'],
      /'--log-level <level>' argument 'loud' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent/,
    ],
    [
      'an invalid duration',
      ['serve', '--drain-delay', 'soon'],
      /'--drain-delay <duration>' argument 'soon' is invalid\. expected a duration such as 5m, 5s or 500ms/,
    ],
    [
      'an invalid port',
      ['serve', '--port', '99999'],
      /'--port <port>' argument '99999' is invalid\. expected a port number from 0 to 65535/,
    ],
    ['an invalid -o', ['evaluate', '-f', 'x.yaml', '-o', 'xml'], /Allowed choices are table, yaml, json, manifests/],
    ['an invalid --warn-exit-code', ['evaluate', '-f', 'x.yaml', '--warn-exit-code', 'x'], /expected an exit code from 0 to 255/],
    ['an unknown option, with the nearest one', ['evaluate', '--fil', 'x'], /unknown option '--fil' \(Did you mean --file\?\)/],
    ['evaluate without -f', ['evaluate'], /evaluate needs at least one -f/],
    ['an unknown command', ['evalute'], /unknown command 'evalute'/],
    ['an invalid --chunk-size', ['audit', '--chunk-size', '0'], /expected a positive integer/],
    [
      '--log-level from the environment is checked too',
      ['serve'],
      /value 'loud' from env 'LOG_LEVEL' is invalid\. Allowed choices are fatal/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, () => {
      const run = runBinary(args, name.includes('environment') ? { env: { ...process.env, LOG_LEVEL: 'loud' } } : {});
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.ok(isOneLine(run.stderr), run.stderr);
      assert.match(run.stderr, /^sandbox-admission: /);
      assert.match(run.stderr, pattern);
    });
  }

  test('no command at all prints the help and exits 2', () => {
    const run = runBinary([]);
    assert.equal(run.code, 2);
    assert.match(run.stdout + run.stderr, /Usage: sandbox-admission/);
  });

  test('--help exits 0', () => {
    assert.equal(runBinary(['evaluate', '--help']).code, 0);
  });
});

describe('engines', () => {
  test('package.json says which Node it needs', () => {
    assert.equal(pkg.engines.node, '>=26.0.0');
  });

  // The machine's own Node is often older than the one npm ci brings; without one, nothing to run.
  const oldNode = findOldNode();
  test('an older Node gets one line saying what to do, no stack trace, exit 2', {
    skip: oldNode === undefined && 'no Node older than 26 on this machine',
  }, () => {
    const run = runBinary(['--version'], { node: oldNode! });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.ok(isOneLine(run.stderr), run.stderr);
    assert.match(run.stderr, /^sandbox-admission: needs Node\.js >=26\.0\.0 \(package\.json engines\), this is Node\.js v\d+/);
  });
});

function findOldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(/^v(\d+)/.exec(version)?.[1]) < 26) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}
