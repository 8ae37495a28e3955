// `sandbox-admission evaluate` as a CI job runs it: the real binary, its stdout, stderr and exit code.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { Evaluation } from '../../../src/cli/evaluate.ts';
import { isOneLine, runBinary } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const dir = makeTempDir('sandbox-admission-evaluate-');
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};
const pod = (name: string, extra = '', labels = '{app: untrusted}', namespace = ''): string =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, labels: ${labels}${namespace ? `, namespace: ${namespace}` : ''}}\nspec:\n  containers: [{name: c, image: registry.example/app:1}]\n${extra}`;

const DENIED = file('a.yaml', pod('host-net', '  hostNetwork: true\n'));
const PATCHED = file('b.yaml', pod('sandboxed'));
const POLICY_WARN = file(
  'warn-policy.yaml',
  `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: warn-first}
spec:
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
      mode: warn
    - name: team-a-labelled
      match: {namespaceSelector: {matchLabels: {tier: untrusted}}}
      action: require
`,
);
const json = (out: string) => JSON.parse(out) as Evaluation[];

describe('evaluate: every input counts', () => {
  test('-f twice: the denial in the first file is not lost (exit 1)', () => {
    const run = runBinary(['evaluate', '-f', DENIED, '-f', PATCHED, '-o', 'json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(
      json(run.stdout).map((e) => [e.file, e.object, e.result]),
      [
        [DENIED, 'Pod/host-net', 'denied'],
        [PATCHED, 'Pod/sandboxed', 'patched'],
      ],
    );
    assert.match(run.stderr, /^2 objects: 1 patched, 0 allowed, 1 denied, 0 warned, 0 skipped, 0 errors$/m);
  });

  test('a directory reads its .yaml/.yml/.json files; -R also its subdirectories', () => {
    const tree = join(dir, 'tree');
    file('tree/one.yaml', pod('one'));
    file('tree/notes.txt', 'not a manifest');
    file(
      'tree/nested/two.json',
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'two' }, spec: { containers: [{ name: 'c', image: 'x' }] } }),
    );
    assert.deepEqual(
      json(runBinary(['evaluate', '-f', tree, '-o', 'json']).stdout).map((e) => e.object),
      ['Pod/one'],
    );
    assert.deepEqual(
      json(runBinary(['evaluate', '-f', tree, '-R', '-o', 'json']).stdout).map((e) => e.object),
      ['Pod/two', 'Pod/one'],
    );
  });

  test('-f - reads stdin: helm template output, comments, empty documents and all', () => {
    const helm = `---\n# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n# Source: chart/templates/empty.yaml\n---\n# Source: chart/templates/pod.yaml\n${pod('from-helm')}`;
    const run = runBinary(['evaluate', '-f', '-'], { input: helm });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^RESULT +OBJECT +NAMESPACE +RULE +RUNTIME +REASON$/m);
    assert.match(run.stdout, /^skipped +ConfigMap\/cfg +- +- +- +holds no pod template \(kind ConfigMap\)$/m);
    assert.match(run.stdout, /^patched +Pod\/from-helm +default +untrusted-apps +gvisor +sandboxed by rule "untrusted-apps"$/m);
  });

  test('Namespace objects in the input (kustomize build output) supply their labels; --namespace-labels adds and overrides', () => {
    const stream = `apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {sandbox-admission.io/runtime: kata, tier: web}}\n---\n${pod('batch', '', '{}', 'team-a')}`;
    const fromInput = json(runBinary(['evaluate', '-f', '-', '-o', 'json'], { input: stream }).stdout);
    assert.deepEqual(
      fromInput.map((e) => [e.object, e.result, e.reason]),
      [
        ['Namespace/team-a', 'skipped', 'a Namespace: its labels are used for the objects in it'],
        ['Pod/batch', 'patched', 'sandboxed by label sandbox-admission.io/runtime=kata on namespace "team-a"'],
      ],
    );
    assert.equal(fromInput[1]!.runtimeClassName, 'kata');
    const overridden = json(
      runBinary(['evaluate', '-f', '-', '-o', 'json', '--namespace-labels', 'team-a=sandbox-admission.io/runtime=gvisor'], {
        input: stream,
      }).stdout,
    );
    assert.equal(overridden[1]!.runtimeClassName, 'gvisor');
    // The namespace's other labels stay, and a rule can select on them.
    const selected = runBinary(
      ['evaluate', '-f', '-', '--policy', POLICY_WARN, '-o', 'json', '--namespace-labels', 'team-a=tier=untrusted'],
      { input: stream.replace('sandbox-admission.io/runtime: kata, ', '') },
    );
    assert.equal(json(selected.stdout)[1]!.rule, 'team-a-labelled');
    assert.equal(selected.code, 1);
  });
});

describe('evaluate: exit codes', () => {
  const errorCases: Array<[string, string[], string | undefined, RegExp]> = [
    [
      'an unreadable file',
      ['-f', join(dir, 'missing.yaml')],
      undefined,
      /^sandbox-admission: cannot read .*missing\.yaml: no such file or directory$/m,
    ],
    ['bad YAML', ['-f', '-'], 'kind: Pod\nmetadata: {name: a\n', /^error +-: document 1 +- +- +- +MANIFEST_YAML at line \d+/m],
    [
      'a bad policy',
      [
        '-f',
        PATCHED,
        '--policy',
        file(
          'typo-policy.yaml',
          'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec:\n  rules:\n    - name: r\n      mach: {}\n      action: exempt\n',
        ),
      ],
      undefined,
      /typo-policy\.yaml: POLICY_SCHEMA at spec\.rules\[0\]\.mach \(line 6, column 7\): unknown field; did you mean "match"\?/,
    ],
    ['empty input', ['-f', '-'], '# nothing here\n---\n', /^sandbox-admission: the input holds no Kubernetes objects$/m],
  ];
  for (const [name, args, input, pattern] of errorCases) {
    test(`${name}: exit 2`, () => {
      const run = runBinary(['evaluate', ...args], input === undefined ? {} : { input });
      assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout + run.stderr, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    });
  }

  test('a bad policy is the only thing on stderr: one line per problem', () => {
    const run = runBinary(['evaluate', '-f', PATCHED, '--policy', join(dir, 'nope.yaml')]);
    assert.equal(run.code, 2);
    assert.ok(isOneLine(run.stderr), run.stderr);
    assert.match(run.stderr, /nope\.yaml: POLICY_READ/);
  });

  test('warn mode: exit 0, or --warn-exit-code during a warn-first rollout; a denial still wins with 1', () => {
    const warned = runBinary(['evaluate', '-f', DENIED, '--policy', POLICY_WARN]);
    assert.equal(warned.code, 0);
    assert.match(
      warned.stdout,
      /^warned +Pod\/host-net +default +untrusted-apps +- +would be denied by rule "untrusted-apps" \(warn mode\): gVisor .* cannot host spec\.hostNetwork/m,
    );
    assert.match(warned.stderr, /1 objects?: 0 patched, 0 allowed, 0 denied, 1 warned, 0 skipped, 0 errors/);
    assert.equal(runBinary(['evaluate', '-f', DENIED, '--policy', POLICY_WARN, '--warn-exit-code', '3']).code, 3);
    const both = `${pod('host-net', '  hostNetwork: true\n')}---\n${pod('plain', '', '{}', 'team-a')}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {tier: untrusted}}\n`;
    assert.equal(runBinary(['evaluate', '-f', '-', '--policy', POLICY_WARN, '--warn-exit-code', '3'], { input: both }).code, 1);
  });
});

describe('evaluate: output', () => {
  test('the table says why: exempt, not governed, skipped; stderr names the policy file and ends with the summary', () => {
    const input = `${pod('system', '', '{app: untrusted}', 'kube-system')}---\n${pod('plain', '', '{}')}---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n`;
    const run = runBinary(['evaluate', '-f', '-'], { input });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^allowed +Pod\/system +kube-system +- +- +exempt: namespace kube-system is exempt$/m);
    assert.match(run.stdout, /^allowed +Pod\/plain +default +- +- +not governed: no rule matches and no namespace label applies$/m);
    assert.match(run.stdout, /^skipped +Service\/svc +- +- +- +holds no pod template \(kind Service\)$/m);
    const lines = run.stderr.trimEnd().split('\n');
    assert.match(
      lines[0]!,
      /^sandbox-admission: policy .*manifests\/base\/policy\.yaml \(SandboxPolicy "example"\), the example policy: pass --policy for your own$/,
    );
    assert.equal(lines.at(-1), '3 objects: 0 patched, 2 allowed, 0 denied, 0 warned, 1 skipped, 0 errors');
    const own = runBinary(['evaluate', '-f', PATCHED, '--policy', POLICY_WARN]);
    assert.match(
      own.stderr,
      new RegExp(
        `^sandbox-admission: policy ${POLICY_WARN.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(SandboxPolicy "warn-first"\\)$`,
        'm',
      ),
    );
  });

  test('-o yaml keeps the detailed records on stdout, the table goes to stderr', () => {
    const run = runBinary(['evaluate', '-f', DENIED, '-f', PATCHED, '-o', 'yaml']);
    const records = parseAllDocuments(run.stdout).map((d) => d.toJS() as Evaluation);
    assert.deepEqual(
      records.map((r) => r.result),
      ['denied', 'patched'],
    );
    assert.deepEqual(records[0]!.violations![0]!.paths, ['spec.hostNetwork']);
    assert.match(run.stderr, /^denied +Pod\/host-net/m);
  });

  test('-o manifests prints the mutated objects alone, a stream kubectl apply -f - reads', () => {
    const input = `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}, data: {a: b}}\n---\n${pod('sandboxed')}---\n${pod('host-net', '  hostNetwork: true\n')}`;
    const run = runBinary(['evaluate', '-f', '-', '-o', 'manifests'], { input });
    assert.equal(run.code, 1);
    const objects = parseAllDocuments(run.stdout).map(
      (d) =>
        d.toJS() as {
          kind: string;
          metadata: { name: string; annotations?: Record<string, string> };
          spec?: Record<string, unknown>;
          data?: unknown;
        },
    );
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['ConfigMap/cfg', 'Pod/sandboxed', 'Pod/host-net'],
    );
    assert.deepEqual(objects[0]!.data, { a: 'b' });
    assert.equal(objects[1]!.spec!.runtimeClassName, 'gvisor');
    assert.equal(objects[1]!.metadata.annotations!['sandbox-admission.io/rule'], 'untrusted-apps');
    assert.equal(objects[2]!.spec!.runtimeClassName, undefined, 'a denied object is printed as it came');
    assert.doesNotMatch(run.stdout, /RESULT|sandbox-admission:/);
    assert.match(run.stderr, /^RESULT +OBJECT/m);
  });

  test('a nodeSelector that contradicts the profile is denied with both values', () => {
    const run = runBinary(['evaluate', '-f', '-'], { input: pod('pinned', '  nodeSelector: {sandbox.gke.io/runtime: runc}\n') });
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /spec\.nodeSelector\["sandbox\.gke\.io\/runtime"\] is "runc" but runtime profile "gvisor" needs node affinity sandbox\.gke\.io\/runtime In \[gvisor\]/,
    );
  });
});
