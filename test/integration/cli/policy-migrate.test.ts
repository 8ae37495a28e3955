import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { isOneLine, REPO_ROOT, runBinary } from '../../helpers/cli.ts';

describe('sandbox-admission policy migrate', () => {
  test('prints the file as the SandboxPolicy "default": the same document, comments kept, only the name changed', () => {
    const run = runBinary(['policy', 'migrate', '--policy', 'manifests/base/policy.yaml']);
    assert.equal(run.code, 0, run.stderr);
    const original = parse(readFileSync(join(REPO_ROOT, 'manifests/base/policy.yaml'), 'utf8'));
    const migrated = parse(run.stdout);
    assert.deepEqual(migrated, { ...original, metadata: { ...original.metadata, name: 'default' } });
    assert.match(run.stdout, /# Pods labelled app=untrusted run in gVisor/);
  });

  test('--name and stdin', () => {
    const run = runBinary(['policy', 'migrate', '--policy', '-', '--name', 'staging'], {
      input: 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: {rules: []}\n',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parse(run.stdout).metadata, { name: 'staging' });
  });

  test('an invalid policy is refused with every path and exit 2, and nothing is printed to apply', () => {
    const run = runBinary(['policy', 'migrate', '--policy', '-'], {
      input:
        'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec:\n  rules:\n    - {name: r, action: sandbox, runtime: firecracker, mtach: {}}\n',
    });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /spec\.rules\[0\]\.mtach/);
    assert.match(run.stderr, /invalid; fix it before migrating/);
  });

  test('without --policy and without a kubeconfig: one line saying what to do', () => {
    const run = runBinary(['policy', 'migrate', '--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(run.code, 2);
    assert.ok(isOneLine(run.stderr), run.stderr);
    assert.match(run.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist/);
  });
});
