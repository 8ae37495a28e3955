import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatAuditTable, runAudit, type AuditCommandOptions, type AuditReport } from '../../../src/cli/audit-command.ts';
import { fakeApis, fakePod, sampleCluster, type FakeApis } from './fake-apis.ts';

const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-audit-'));
const POLICY_PATH = join(dir, 'policy.yaml');
writeFileSync(
  POLICY_PATH,
  `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
spec:
  namespaceLabels: {enabled: true}
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`,
);
const BAD_POLICY_PATH = join(dir, 'bad.yaml');
writeFileSync(BAD_POLICY_PATH, 'kind: SandboxPolicy\nspec: {rules: [{name: x, action: launch}]}\n');

async function audit(
  overrides: Partial<AuditCommandOptions> = {},
  apis: FakeApis = fakeApis(sampleCluster()),
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAudit(
    { policy: POLICY_PATH, output: 'json', webhookNamespace: 'sandbox-admission', ...overrides },
    (t) => (out += t),
    (t) => (err += t),
    { apis },
  );
  return { code, out, err };
}

describe('sandbox-admission audit', () => {
  test('JSON lists every governed pod with its findings, and the counts; exit 1 on findings', async () => {
    const { code, out, err } = await audit();
    assert.equal(code, 1);
    const report = JSON.parse(out) as AuditReport;
    assert.deepEqual(
      report.pods.map((p) => [p.namespace, p.pod, p.rule, p.mode, p.runtimeClassName, p.finding]),
      [
        ['apps', 'sandboxed', 'untrusted-apps', 'enforce', 'gvisor', false],
        ['apps', 'bare', 'untrusted-apps', 'enforce', null, true],
        ['apps', 'hostnet', 'untrusted-apps', 'enforce', 'gvisor', true],
        ['labelled', 'plain', 'namespace-label', 'warn', null, true],
        ['labelled', 'vm', 'namespace-label', 'warn', 'kata', false],
      ],
    );
    assert.deepEqual(
      report.pods[2]!.violations.map((v) => [v.kind, v.paths]),
      [['unsupported-feature', ['spec.hostNetwork']]],
    );
    assert.deepEqual(
      { ...report.summary, findingsByKind: undefined },
      { scanned: 7, governed: 5, findings: 3, findingsByMode: { enforce: 2, warn: 1, audit: 0 }, findingsByKind: undefined },
    );
    assert.equal(
      err,
      'audit of all namespaces: 7 pods scanned (Succeeded/Failed skipped), 5 governed by the policy, 3 findings (enforce 2, warn 1)\n',
    );
  });

  test('the table has one row per governed pod; FINDING is ok or each violation kind with its fields', async () => {
    const { code, out } = await audit({ output: 'table' });
    assert.equal(code, 1);
    assert.equal(
      out,
      [
        'NAMESPACE   POD         RULE              MODE      RUNTIME   FINDING',
        'apps        sandboxed   untrusted-apps    enforce   gvisor    ok',
        'apps        bare        untrusted-apps    enforce   <none>    no-sandbox-runtime (spec.runtimeClassName)',
        'apps        hostnet     untrusted-apps    enforce   gvisor    unsupported-feature (spec.hostNetwork)',
        'labelled    plain       namespace-label   warn      <none>    no-sandbox-runtime (spec.runtimeClassName)',
        'labelled    vm          namespace-label   warn      kata      ok',
        '',
      ].join('\n'),
    );
  });

  test('exit 0 when every governed pod is fine; --namespace narrows the scan; no rows, no table', async () => {
    const cluster = sampleCluster();
    cluster.pods = [fakePod('apps', 'sandboxed', { app: 'untrusted' }, { runtimeClassName: 'gvisor' }), fakePod('labelled', 'plain', {})];
    const { code, out, err } = await audit({ output: 'table', namespace: 'apps' }, fakeApis(cluster));
    assert.equal(code, 0);
    assert.match(out, /^NAMESPACE .*\napps +sandboxed .* ok\n$/);
    assert.equal(err, 'audit of namespace apps: 1 pod scanned (Succeeded/Failed skipped), 1 governed by the policy, no findings\n');
    assert.equal(formatAuditTable([]), '');
  });

  test('--chunk-size is the page size of every list request', async () => {
    const apis = fakeApis(sampleCluster());
    await audit({ chunkSize: '4' }, apis);
    assert.deepEqual(
      apis.calls.filter((c) => c.method === 'listPodForAllNamespaces').map((c) => [c.params.limit, c.params._continue]),
      [
        [4, undefined],
        [4, '4'],
      ],
    );
    assert.equal((await audit({ chunkSize: '0' })).code, 2);
  });

  test('exit 2 when the audit cannot run: invalid policy, API error', async () => {
    const bad = await audit({ policy: BAD_POLICY_PATH });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /POLICY_SCHEMA/);
    assert.equal(bad.out, '');

    const apis = fakeApis(sampleCluster());
    apis.failNext(
      'listPodForAllNamespaces',
      Object.assign(new Error('HTTP-Code: 403'), {
        code: 403,
        body: JSON.stringify({ message: 'pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope' }),
      }),
    );
    const forbidden = await audit({}, apis);
    assert.equal(forbidden.code, 2);
    assert.equal(forbidden.out, '');
    assert.equal(
      forbidden.err,
      'sandbox-admission: audit failed: API server answered 403: pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope\n',
    );
  });
});
