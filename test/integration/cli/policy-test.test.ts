// `sandbox-admission test` and `render schema` through the binary, and the example policy's own test file (CI runs it here).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { policyTestSchema } from '../../../src/cli/policy-test.ts';
import { policySchema } from '../../../src/policy/schema.ts';
import { isOneLine, REPO_ROOT, runBinary } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const dir = makeTempDir('sandbox-admission-policy-test-');
const write = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
write(
  'pods.yaml',
  `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: untrusted}}
spec: {containers: [{name: c, image: nginx}]}
`,
);
const testFile = (results: string, extra = ''): string => `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicyTest
policy: ${join(REPO_ROOT, 'manifests/base/policy.yaml')}
resources: [pods.yaml]
${extra}results:
${results}`;

describe('sandbox-admission test', () => {
  test('the example policies pass their own test files (exit 0); a directory is searched for *.test.yaml', () => {
    const one = runBinary(['test', 'manifests/base/policy.test.yaml']);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.match(one.stdout, /^manifests\/base\/policy\.test\.yaml \(policy policy\.yaml, SandboxPolicy "example"\)$/m);
    assert.match(one.stdout, /^1 test file: \d+ passed, 0 failed\n$/m);
    const all = runBinary(['test', 'manifests']);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, /^manifests\/overlays\/kata\/policy\.test\.yaml \(policy policy\.yaml, SandboxPolicy "kata"\)$/m);
    assert.doesNotMatch(all.stdout, /FAIL/);
    assert.match(all.stdout, /^2 test files: \d+ passed, 0 failed\n$/m);
  });

  test('a failing case says what was expected and what came; exit 1', () => {
    const path = write(
      'fails.test.yaml',
      testFile('  - {object: Pod/web, result: denied, rule: untrusted-apps, runtime: kata}\n  - {object: Pod/ghost, result: allowed}\n'),
    );
    const run = runBinary(['test', path]);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /^ {2}FAIL {2}Pod\/web: expected result denied, got patched; expected runtime kata, got gvisor \(sandboxed by rule "untrusted-apps"\)$/m,
    );
    assert.match(run.stdout, /^ {2}FAIL {2}Pod\/ghost: no such object in the resources$/m);
    assert.match(run.stdout, /1 test file: 0 passed, 2 failed/);
  });

  test('namespace labels in the test file govern namespaces', () => {
    write('batch.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: batch}\nspec: {containers: [{name: c, image: nginx}]}\n');
    const path = write(
      'labels.test.yaml',
      testFile(
        '  - {object: Pod/batch, namespace: team-a, result: patched, rule: namespace-label, runtime: kata}\n',
        'defaultNamespace: team-a\nnamespaces:\n  team-a: {sandbox-admission.io/runtime: kata}\n',
      ).replace('[pods.yaml]', '[batch.yaml]'),
    );
    const run = runBinary(['test', path]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /PASS {2}Pod\/batch in team-a: patched, rule namespace-label, runtime kata/);
  });

  test('a broken test file: the position and the nearest key, exit 2', () => {
    const path = write('typo.test.yaml', testFile('  - {object: Pod/web, reslt: patched}\n'));
    const run = runBinary(['test', path]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /typo\.test\.yaml: POLICY_TEST at results\[0\]\.reslt \(line 6, column 23\): unknown field; did you mean "result"\?/,
    );
    assert.match(run.stderr, /typo\.test\.yaml: POLICY_TEST at results\[0\]\.result \(line 6, column 5\): required field is missing/);
  });

  test('a missing resource file or test path: exit 2, one line', () => {
    const path = write('missing.test.yaml', testFile('  - {object: Pod/web, result: patched}\n').replace('[pods.yaml]', '[nope.yaml]'));
    const run = runBinary(['test', path]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cannot read .*nope\.yaml: no such file or directory/);
    const none = runBinary(['test', join(dir, 'absent')]);
    assert.equal(none.code, 2);
    assert.ok(isOneLine(none.stderr), none.stderr);
  });
});

describe('render schema', () => {
  test('prints the schema the policy is validated with; the checked-in copy editors use is current', () => {
    const run = runBinary(['render', 'schema']);
    assert.equal(run.code, 0);
    assert.deepEqual(JSON.parse(run.stdout), policySchema);
    assert.equal(
      readFileSync(join(REPO_ROOT, 'schemas/policy.schema.json'), 'utf8'),
      run.stdout,
      'regenerate: npx sandbox-admission render schema > schemas/policy.schema.json',
    );
    const tests = runBinary(['render', 'schema', '--kind', 'test']);
    assert.deepEqual(JSON.parse(tests.stdout), policyTestSchema);
    assert.equal(
      readFileSync(join(REPO_ROOT, 'schemas/policy-test.schema.json'), 'utf8'),
      tests.stdout,
      'regenerate: npx sandbox-admission render schema --kind test > schemas/policy-test.schema.json',
    );
  });

  test('a standalone validator built from the printed schema agrees with the webhook on the examples', () => {
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(
      JSON.parse(runBinary(['render', 'schema']).stdout) as object,
    );
    for (const path of ['manifests/base/policy.yaml', 'manifests/overlays/kata/policy.yaml']) {
      const text = readFileSync(join(REPO_ROOT, path), 'utf8');
      assert.ok(validate(parse(text)), `${path}: ${JSON.stringify(validate.errors)}`);
      const rel = path
        .split('/')
        .slice(1, -1)
        .map(() => '..')
        .join('/');
      assert.ok(
        text.startsWith(`# yaml-language-server: $schema=${rel}/../schemas/policy.schema.json\n`),
        `${path} points editors at the schema`,
      );
    }
    assert.equal(
      validate({
        apiVersion: 'sandbox-admission.io/v1alpha1',
        kind: 'SandboxPolicy',
        spec: { rules: [{ name: 'r', action: 'exempt', mach: {} }] },
      }),
      false,
    );
  });
});
