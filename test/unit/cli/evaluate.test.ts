import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { runEvaluate, type EvaluateCommandOptions } from '../../../src/cli/evaluate-command.ts';
import type { Evaluation } from '../../../src/cli/evaluate.ts';
import { EXAMPLE_POLICY_PATH } from '../../../src/main/paths.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const MIXED = fileURLToPath(new URL('../../fixtures/manifests/mixed.yaml', import.meta.url));

function evaluate(overrides: Partial<EvaluateCommandOptions> = {}): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runEvaluate(
    {
      file: [MIXED],
      recursive: false,
      policy: EXAMPLE_POLICY_PATH,
      namespace: 'default',
      namespaceLabels: [],
      output: 'json',
      warnExitCode: 0,
      webhookNamespace: 'sandbox-admission',
      ...overrides,
    },
    (t) => (out += t),
    (t) => (err += t),
  );
  return { code, out, err };
}

describe('sandbox-admission evaluate', () => {
  test('every object of a multi-document file gets a line, in order, with lists flattened', () => {
    const { out } = evaluate({ namespaceLabels: ['governed=sandbox-admission.io/runtime=kata'] });
    const results = JSON.parse(out) as Evaluation[];
    assert.deepEqual(
      results.map((r) => [r.object, r.result]),
      [
        ['Deployment/legacy-web', 'patched'],
        ['StatefulSet/db', 'denied'],
        ['ConfigMap/settings', 'skipped'],
        ['DaemonSet/agent', 'allowed'],
        ['Job/migrate', 'patched'],
        ['Pod/plain', 'allowed'],
      ],
    );
  });

  test('an old API version template is mutated where its pods will be', () => {
    const [legacy] = JSON.parse(evaluate().out) as Evaluation[];
    const spec = (
      legacy!.mutated as { spec: { template: { spec: Record<string, unknown>; metadata: { annotations: Record<string, string> } } } }
    ).spec.template;
    assert.equal(spec.spec.runtimeClassName, 'gvisor');
    assert.equal(spec.metadata.annotations['sandbox-admission.io/rule'], 'untrusted-apps');
    // An Exists toleration with no key already tolerates the sandbox taint.
    assert.deepEqual(spec.spec.tolerations, [{ operator: 'Exists' }]);
  });

  test('template field paths are reported from the object root', () => {
    const results = JSON.parse(evaluate().out) as Evaluation[];
    assert.deepEqual(results[1]!.violations![0]!.paths, ['spec.template.spec.hostNetwork']);
  });

  test('namespace labels given on the command line govern a namespace', () => {
    const job = (JSON.parse(evaluate({ namespaceLabels: ['governed=sandbox-admission.io/runtime=kata'] }).out) as Evaluation[])[4]!;
    assert.equal(job.source, 'namespace-label');
    assert.equal(job.runtimeClassName, 'kata');
  });

  test('exit code 1 when something would be rejected, 0 when all is admitted', () => {
    assert.equal(evaluate().code, 1);
    const dir = makeTempDir('eval-');
    const ok = join(dir, 'ok.yaml');
    writeFileSync(
      ok,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: untrusted}}\nspec: {containers: [{name: c, image: x}]}\n',
    );
    assert.equal(evaluate({ file: [ok] }).code, 0);
  });

  test('-o yaml prints one YAML document per object, and the table on stderr', () => {
    const { out, err } = evaluate({ output: 'yaml' });
    const docs = parseAllDocuments(out).map((d) => d.toJS() as Evaluation);
    assert.equal(docs.length, 6);
    assert.equal(docs[0]!.runtimeClassName, 'gvisor');
    assert.match(err, /^patched +Deployment\/legacy-web +team-a +untrusted-apps +gvisor +sandboxed by rule "untrusted-apps"$/m);
    assert.match(err, /^denied +StatefulSet\/db +default/m);
  });

  test('a broken document is reported and the rest still evaluated (exit 2)', () => {
    const dir = makeTempDir('eval-');
    const file = join(dir, 'broken.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: []}\n',
    );
    const { code, out } = evaluate({ file: [file] });
    const results = JSON.parse(out) as Evaluation[];
    assert.equal(code, 2);
    assert.equal(results[0]!.result, 'error');
    assert.match(results[0]!.message!, /^MANIFEST_YAML at line \d+/);
    assert.equal(results[1]!.object, 'Pod/b');
  });

  test('a bad policy is refused with the field path, exit 2', () => {
    const dir = makeTempDir('eval-');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: {rules: [{name: r, action: sandbox, runtime: nope}]}\n',
    );
    const { code, err } = evaluate({ policy });
    assert.equal(code, 2);
    assert.match(err, /POLICY_REFERENCE at spec\.rules\[0\]\.runtime \(line 3, column 43\): no runtime profile "nope"/);
  });

  test('YAML output carries no anchors, so it can be applied as is', () => {
    assert.doesNotMatch(evaluate({ output: 'yaml' }).out, /[&*]a\d/);
    assert.ok(parseYaml(evaluate({ output: 'yaml' }).out.split('---\n')[0]!));
  });

  test('a Pod without a spec and an unresolvable alias are reported per document; the rest is still evaluated', () => {
    const dir = makeTempDir('eval-');
    const file = join(dir, 'odd.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: nospec, labels: {app: untrusted}}\n---\nkind: Pod\nmetadata: *missing\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: fine}\nspec: {containers: [{name: c, image: x}]}\n',
    );
    const results = JSON.parse(evaluate({ file: [file] }).out) as Evaluation[];
    assert.deepEqual(
      results.map((r) => [r.object, r.result]),
      [
        ['Pod/nospec', 'denied'],
        ['document 2', 'error'],
        ['Pod/fine', 'allowed'],
      ],
    );
  });
});
