import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatAuditTable, runAudit, type AuditCommandOptions, type AuditReport } from '../../../src/cli/audit-command.ts';
import { kubeApiError } from '../helpers/fake-kube-api-client.ts';
import { ALL_PODS_PATH, fakeApis, fakePod, sampleCluster, type FakeApis } from './fake-apis.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const dir = makeTempDir('sandbox-admission-audit-');
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

const POLICY_LINE = `sandbox-admission: policy ${POLICY_PATH} (SandboxPolicy "sandbox-policy")\n`;

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
    { client: apis },
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
      POLICY_LINE +
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
    assert.equal(
      err,
      POLICY_LINE + 'audit of namespace apps: 1 pod scanned (Succeeded/Failed skipped), 1 governed by the policy, no findings\n',
    );
    assert.equal(formatAuditTable([]), '');
  });

  test('--chunk-size is the page size of every list request', async () => {
    const apis = fakeApis(sampleCluster());
    await audit({ chunkSize: '4' }, apis);
    assert.deepEqual(
      apis.requestsTo(ALL_PODS_PATH).map((r) => [r.query?.limit, r.query?.continue]),
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
      ALL_PODS_PATH,
      kubeApiError(403, 'pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope'),
    );
    const forbidden = await audit({}, apis);
    assert.equal(forbidden.code, 2);
    assert.equal(forbidden.out, '');
    assert.equal(
      forbidden.err,
      POLICY_LINE +
        'sandbox-admission: audit failed: API server answered 403: pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope\n',
    );
  });

  test('without --policy: the policy in force, from the ConfigMap; its problems are one line each', async () => {
    const run = async (read: () => Promise<string | undefined>) => {
      let out = '';
      let err = '';
      const code = await runAudit(
        { output: 'json', webhookNamespace: 'sandbox-admission' },
        (t) => (out += t),
        (t) => (err += t),
        { client: fakeApis(sampleCluster()), readConfigMapPolicy: read },
      );
      return { code, out, err };
    };
    const { readFileSync } = await import('node:fs');
    const inForce = await run(async () => readFileSync(POLICY_PATH, 'utf8'));
    assert.equal(inForce.code, 1);
    assert.match(
      inForce.err,
      /^sandbox-admission: policy ConfigMap sandbox-admission\/sandbox-admission-policy \(key policy\.yaml, the policy in force\) \(SandboxPolicy "sandbox-policy"\)\n/,
    );
    assert.equal((JSON.parse(inForce.out) as AuditReport).summary.findings, 3);

    const missing = await run(async () => {
      throw Object.assign(new Error('HTTP-Code: 404'), {
        code: 404,
        body: JSON.stringify({ message: 'configmaps "sandbox-admission-policy" not found' }),
      });
    });
    assert.equal(missing.code, 2);
    assert.equal(
      missing.err,
      'ConfigMap sandbox-admission/sandbox-admission-policy (key policy.yaml, the policy in force): POLICY_READ: cannot read it: API server answered 404: configmaps "sandbox-admission-policy" not found; pass --policy <file>, or --webhook-namespace / --policy-configmap where the webhook is installed\n',
    );
    const noKey = await run(async () => undefined);
    assert.equal(noKey.code, 2);
    assert.match(noKey.err, /has no key policy\.yaml/);
  });

  test('without --policy or a reader: the ConfigMap is one GET through the client; a 404 is a policy read error', async () => {
    const { readFileSync } = await import('node:fs');
    const path = '/api/v1/namespaces/sandbox-admission/configmaps/sandbox-admission-policy';
    const apis = fakeApis(sampleCluster());
    const request = apis.request;
    const configMapReads: unknown[] = [];
    apis.request = async <T>(sent: Parameters<typeof request>[0]): Promise<T> => {
      if (sent.path !== path) return request<T>(sent);
      configMapReads.push(sent);
      return { data: { 'policy.yaml': readFileSync(POLICY_PATH, 'utf8') } } as T;
    };
    let err = '';
    const code = await runAudit(
      { output: 'json', webhookNamespace: 'sandbox-admission' },
      () => undefined,
      (t) => (err += t),
      { client: apis },
    );
    assert.equal(code, 1, err);
    assert.deepEqual(configMapReads, [{ method: 'GET', path }]);

    const missing = fakeApis(sampleCluster());
    missing.failNext(path, kubeApiError(404, 'configmaps "sandbox-admission-policy" not found'));
    let missingErr = '';
    assert.equal(
      await runAudit(
        { output: 'json', webhookNamespace: 'sandbox-admission' },
        () => undefined,
        (t) => (missingErr += t),
        { client: missing },
      ),
      2,
    );
    assert.deepEqual(missing.requests, [{ method: 'GET', path }]);
    assert.match(missingErr, /POLICY_READ: cannot read it: API server answered 404: configmaps "sandbox-admission-policy" not found/);
  });
});
