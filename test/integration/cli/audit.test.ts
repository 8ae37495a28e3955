// `sandbox-admission audit` through the binary where no cluster is needed: every way the kubeconfig can be
// missing or wrong is one line that says what to do, exit 2. (Against a real API server: test/e2e/audit.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isOneLine, REPO_ROOT, runBinary } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const dir = makeTempDir('sandbox-admission-audit-cli-');
const POLICY = join(REPO_ROOT, 'manifests/base/policy.yaml');
const kubeconfig = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const TWO_CONTEXTS = kubeconfig(
  'two.yaml',
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: dev, context: {cluster: c, user: u}}, {name: prod, context: {cluster: c, user: u}}]
`,
);
// No KUBECONFIG, a HOME without ~/.kube, not in a pod.
const bareEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
  delete env.KUBECONFIG;
  delete env.KUBERNETES_SERVICE_HOST;
  return env;
};

describe('audit: kubeconfig problems are one line and exit 2', () => {
  const cases: Array<[string, string[], RegExp, NodeJS.ProcessEnv?]> = [
    [
      '--kubeconfig naming no file',
      ['--kubeconfig', join(dir, 'absent')],
      /^sandbox-admission: kubeconfig .*absent does not exist; pass --kubeconfig <file> or set KUBECONFIG/,
    ],
    [
      'a kubeconfig that is not YAML',
      ['--kubeconfig', kubeconfig('broken.yaml', 'clusters: [\n')],
      /^sandbox-admission: cannot load the kubeconfig .*broken\.yaml: .*; fix it or pass --kubeconfig/,
    ],
    [
      'no kubeconfig anywhere',
      [],
      /^sandbox-admission: no kubeconfig found \(.*\.kube\/config does not exist and KUBECONFIG is unset\); pass --kubeconfig/,
      bareEnv(),
    ],
    [
      'KUBECONFIG naming no file',
      [],
      /^sandbox-admission: no kubeconfig found \(KUBECONFIG=.*nowhere names no existing file\)/,
      { ...bareEnv(), KUBECONFIG: join(dir, 'nowhere') },
    ],
    [
      'an unknown --context names the known ones',
      ['--kubeconfig', TWO_CONTEXTS, '--context', 'staging'],
      /has no context "staging" \(contexts: dev, prod\); pass one of them to --context/,
    ],
    [
      'no current-context and no --context',
      ['--kubeconfig', TWO_CONTEXTS],
      /has no current-context; pass --context \(contexts: dev, prod\)/,
    ],
    [
      'a current-context the file does not define',
      ['--kubeconfig', kubeconfig('dangling.yaml', readFileSync(TWO_CONTEXTS, 'utf8') + 'current-context: gone\n')],
      /its current-context "gone" is not one of its contexts \(dev, prod\); pass --context/,
    ],
    ['-n with -A', ['-n', 'a', '-A'], /--namespace and --all-namespaces exclude each other/],
  ];
  for (const [name, args, pattern, env] of cases) {
    test(name, () => {
      const run = runBinary(['audit', '--policy', POLICY, ...args], env ? { env } : {});
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.ok(isOneLine(run.stderr), run.stderr);
      assert.match(run.stderr, pattern);
    });
  }

  test('--context picks the context; an unreachable server is one line too', () => {
    const run = runBinary(['audit', '--policy', POLICY, '--kubeconfig', TWO_CONTEXTS, '--context', 'prod']);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^sandbox-admission: policy .*policy\.yaml \(SandboxPolicy "example"\)\nsandbox-admission: audit failed: .*\n$/,
    );
  });
});
