import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parsePolicy } from '../../../src/policy/parse.ts';

const parse = (text: string) => parsePolicy(text, { webhookNamespace: 'sandbox-admission' });
const head = 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\n';
const errorsOf = (text: string) => {
  const result = parse(text);
  assert.equal(result.ok, false, 'expected the policy to be refused');
  return result.ok ? [] : result.error;
};

describe('policy parsing', () => {
  test('the shipped example policy parses', () => {
    const result = parse(readFileSync(new URL('../../../manifests/base/policy.yaml', import.meta.url), 'utf8'));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
    assert.deepEqual(
      result.value.rules.map((r) => r.name),
      ['untrusted-apps'],
    );
    assert.deepEqual([...result.value.profiles.keys()], ['gvisor', 'kata']);
  });

  test('flow-style YAML is the same policy', () => {
    const result = parse(
      `${head}spec: {rules: [{name: r, action: sandbox, runtime: gvisor, match: {podSelector: {matchLabels: {app: untrusted}}}}]}`,
    );
    assert.ok(result.ok);
  });

  test('a typo in a field name is refused with the path of that field', () => {
    const errors = errorsOf(`${head}spec:\n  rules:\n    - name: r\n      action: sandbox\n      runtime: gvisor\n      mtach: {}\n`);
    assert.deepEqual(
      errors.map((e) => [e.code, e.path]),
      [['POLICY_SCHEMA', 'spec.rules[0].mtach']],
    );
    assert.match(errors[0]!.message, /unknown field/);
  });

  test('a bad enum value names the allowed values', () => {
    const errors = errorsOf(`${head}spec:\n  rules:\n    - {name: r, action: sandbox, runtime: gvisor, mode: strict}\n`);
    assert.equal(errors[0]!.path, 'spec.rules[0].mode');
    assert.match(errors[0]!.message, /"enforce", "warn", "audit"/);
  });

  test('a missing required field is reported at its own path', () => {
    const errors = errorsOf(`${head}spec:\n  rules:\n    - {name: r}\n`);
    assert.deepEqual(
      errors.map((e) => e.path),
      ['spec.rules[0].action'],
    );
  });

  test('a rule naming an undefined profile is refused', () => {
    const errors = errorsOf(`${head}spec:\n  rules:\n    - {name: r, action: sandbox, runtime: firecracker}\n`);
    assert.deepEqual(
      errors.map((e) => [e.code, e.path]),
      [['POLICY_REFERENCE', 'spec.rules[0].runtime']],
    );
    assert.match(errors[0]!.message, /known: gvisor, kata/);
  });

  test('duplicate rule names, selector values and tolerations are checked', () => {
    const errors = errorsOf(`${head}spec:
  profiles:
    gv2:
      runtimeClassName: gvisor2
      tolerations: [{operator: Exists, value: x}]
      nodeAffinity: [{key: a, operator: In}]
  rules:
    - {name: r, action: exempt}
    - {name: r, action: exempt, match: {podSelector: {matchExpressions: [{key: k, operator: Exists, values: [v]}]}}}
`);
    assert.deepEqual(errors.map((e) => e.path).sort(), [
      'spec.profiles.gv2.nodeAffinity[0].values',
      'spec.profiles.gv2.tolerations[0].value',
      'spec.rules[1].match.podSelector.matchExpressions[0].values',
      'spec.rules[1].name',
    ]);
  });

  test('label keys with a prefix are accepted; invalid ones are refused with their path', () => {
    assert.ok(
      parse(`${head}spec:\n  rules:\n    - {name: r, action: exempt, match: {podSelector: {matchLabels: {app.kubernetes.io/name: x}}}}\n`)
        .ok,
    );
    const errors = errorsOf(
      `${head}spec:\n  rules:\n    - {name: r, action: exempt, match: {podSelector: {matchLabels: {"bad key!": x}}}}\n`,
    );
    assert.equal(errors[0]!.path, 'spec.rules[0].match.podSelector.matchLabels["bad key!"]');
  });

  test('every schema and semantic error carries its line and column; an unknown key names the nearest known one', () => {
    const errors = errorsOf(
      `${head}spec:\n  rules:\n    - name: r\n      mach: {}\n      action: exempt\n    - name: s\n      action: sandbox\n      runtime: firecracker\n      match:\n        podselector: {}\n        zzzzzzzz: 1\n`,
    );
    assert.deepEqual(
      errors.map((e) => [e.path, e.line, e.column, e.message]),
      [
        ['spec.rules[0].mach', 6, 7, 'unknown field; did you mean "match"?'],
        ['spec.rules[1].match.podselector', 12, 9, 'unknown field; did you mean "podSelector"?'],
        [
          'spec.rules[1].match.zzzzzzzz',
          13,
          9,
          'unknown field (known here: podSelector, namespaces, excludeNamespaces, namespaceSelector, serviceAccounts, images)',
        ],
      ],
    );
    const semantic = errorsOf(`${head}spec:\n  rules:\n    - {name: r, action: sandbox, runtime: firecracker}\n`);
    assert.deepEqual([semantic[0]!.code, semantic[0]!.line, semantic[0]!.column], ['POLICY_REFERENCE', 5, 34]);
    // A missing field points at the object that lacks it.
    const missing = errorsOf(`${head}spec:\n  rules:\n    - {action: exempt}\n`);
    assert.deepEqual([missing[0]!.path, missing[0]!.line, missing[0]!.column], ['spec.rules[0].name', 5, 7]);
  });

  test('invalid YAML is refused with a line and column', () => {
    const errors = errorsOf(`${head}spec:\n  rules: [\n`);
    assert.equal(errors[0]!.code, 'POLICY_YAML');
    assert.match(errors[0]!.path!, /^line \d+, column \d+$/);
  });

  test('duplicate keys are refused rather than silently taking the last', () => {
    assert.equal(errorsOf(`${head}spec: {}\nspec: {}\n`)[0]!.code, 'POLICY_YAML');
  });

  test('more than one document is refused', () => {
    assert.equal(errorsOf(`${head}spec: {}\n---\n${head}spec: {}\n`)[0]!.code, 'POLICY_NOT_ONE_DOCUMENT');
    assert.equal(errorsOf('')[0]!.code, 'POLICY_NOT_ONE_DOCUMENT');
  });

  test('the wrong kind or apiVersion is refused', () => {
    const errors = errorsOf('apiVersion: v1\nkind: ConfigMap\nspec: {rules: []}\n');
    assert.deepEqual(
      errors.map((e) => e.path),
      ['apiVersion', 'kind'],
    );
  });
});

test('YAML that parses but cannot be resolved (an alias without an anchor) is refused, not thrown', () => {
  const result = parsePolicy('apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: *typo\n', { webhookNamespace: 'x' });
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error[0]!.code, 'POLICY_YAML');
});

describe('a torn policy file (issue 10, item 8)', () => {
  const shipped = ['manifests/base/policy.yaml', 'manifests/overlays/kata/policy.yaml'];
  const ruleShape = (p: { rules: ReadonlyArray<{ name: string; action: string; mode: string; profile?: { name: string } | undefined }> }) =>
    p.rules.map((r) => `${r.name}/${r.action}/${r.mode}/${r.profile?.name ?? '-'}`);

  for (const file of shipped) {
    test(`${file} cut at any line boundary is refused or still holds every rule`, () => {
      const text = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
      const full = parse(text);
      assert.ok(full.ok);
      const lines = text.split('\n');
      for (let n = 0; n < lines.length; n++) {
        const prefix = `${lines.slice(0, n).join('\n')}\n`;
        const cut = parse(prefix);
        if (cut.ok)
          assert.deepEqual(ruleShape(cut.value), ruleShape(full.value), `cut after line ${n} was accepted with other rules:\n${prefix}`);
      }
    });
  }

  test('a policy without spec.rules is refused with a hint; rules: [] says "govern nothing" explicitly', () => {
    const errors = errorsOf(`${head}spec:\n  namespaceLabels:\n    enabled: true\n`);
    assert.deepEqual(
      errors.map((e) => [e.code, e.path]),
      [['POLICY_SCHEMA', 'spec.rules']],
    );
    assert.match(errors[0]!.message, /rules: \[\]/);
    assert.equal(errorsOf(`${head}spec: {}\n`)[0]!.path, 'spec.rules');
    const empty = parse(`${head}spec:\n  rules: []\n`);
    assert.ok(empty.ok);
    assert.equal(empty.value.rules.length, 0);
  });
});
