// `sandbox-admission audit` and the server's audit scanner against a real kube-apiserver. The pods are created
// with no webhook installed, as if they predate the installation or slipped through an outage, and every
// expectation is about what the audit reads back from the API server.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '../../src/audit/audit-pods.ts';
import { createAuditScanner } from '../../src/audit/audit-scanner.ts';
import { productApiClient } from './harness/api-client.ts';
import type { AuditReport } from '../../src/cli/audit-command.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { loadPolicyFile } from '../../src/policy/file-store.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { issueCert } from './harness/pki.ts';

const bins = resolveBinaries();
const REPO = fileURLToPath(new URL('../../', import.meta.url));

const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-audit}
spec:
  namespaceLabels: {enabled: true, defaultMode: enforce}
  profiles:
    legacy-sandbox:
      runtimeClassName: legacy-sandbox
      displayName: Legacy sandbox
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
    - name: legacy
      match: {namespaces: [legacy]}
      action: sandbox
      runtime: legacy-sandbox
      mode: warn
`;

const UNTRUSTED = { app: 'untrusted' };

function pod(name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec } };
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, its own kubeconfig file. */
function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin/sandbox-admission.js'), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const row = (e: AuditEntry) =>
  `${e.namespace}/${e.pod} ${e.rule} ${e.mode} ${e.runtimeClassName ?? '-'} ${e.finding ? e.violations.map((v) => v.kind).join('+') : 'ok'}`;

const EXPECTED_ROWS = [
  'apps/hostnet untrusted-apps enforce gvisor unsupported-feature',
  'apps/sandboxed untrusted-apps enforce gvisor ok',
  'apps/unsandboxed untrusted-apps enforce - no-sandbox-runtime',
  'audited/runc-pod namespace-label audit runc runtime-not-allowed',
  'clean/sandboxed namespace-label enforce gvisor ok',
  'labelled/vm namespace-label warn kata ok',
  'labelled/vm-less namespace-label warn - no-sandbox-runtime',
  'legacy/old legacy warn legacy-sandbox runtime-class-not-sandbox',
];

describe('audit of what already runs, against a real kube-apiserver', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let policyPath: string;
  const t0 = Date.now();

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      const kc = cluster.kubeConfig;
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const node = kc.makeApiClient(k8s.NodeV1Api);
      // The RuntimeClass admission plugin refuses pods naming a class that does not exist.
      for (const [name, handler] of [
        ['gvisor', 'runsc'],
        ['kata', 'kata'],
        ['runc', 'runc'],
        ['legacy-sandbox', 'runc'],
      ] as const) {
        await node.createRuntimeClass({ body: { metadata: { name }, handler } });
      }
      for (const [name, labels] of [
        ['apps', {}],
        ['labelled', { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' }],
        ['legacy', {}],
        ['audited', { 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'audit' }],
        ['clean', { 'sandbox-admission.io/runtime': 'gvisor' }],
        ['sandbox-admission', {}],
      ] as const) {
        await createNamespace(kc, name, labels);
      }
      const pods: Array<[string, k8s.V1Pod]> = [
        ['apps', pod('sandboxed', UNTRUSTED, { runtimeClassName: 'gvisor' })],
        ['apps', pod('unsandboxed', UNTRUSTED)],
        ['apps', pod('hostnet', UNTRUSTED, { runtimeClassName: 'gvisor', hostNetwork: true })],
        ['apps', pod('plain', { app: 'web' })],
        ['apps', pod('finished', UNTRUSTED)],
        ['labelled', pod('vm', {}, { runtimeClassName: 'kata' })],
        ['labelled', pod('vm-less')],
        ['legacy', pod('old', {}, { runtimeClassName: 'legacy-sandbox' })],
        ['audited', pod('runc-pod', {}, { runtimeClassName: 'runc' })],
        ['clean', pod('sandboxed', {}, { runtimeClassName: 'gvisor' })],
        ['sandbox-admission', pod('webhook', UNTRUSTED)],
      ];
      for (const [namespace, body] of pods) await core.createNamespacedPod({ namespace, body });
      // A pod that ran to completion: the status subresource is what a kubelet would write.
      const finished = await core.readNamespacedPod({ namespace: 'apps', name: 'finished' });
      finished.status = { ...finished.status, phase: 'Succeeded' };
      await core.replaceNamespacedPodStatus({ namespace: 'apps', name: 'finished', body: finished });
      policyPath = join(cluster.dir, 'audit-policy.yaml');
      writeFileSync(policyPath, POLICY);
      process.stderr.write(`[e2e] phase audit-setup: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await cluster?.stop();
    process.stderr.write(`[e2e] phase audit-suite: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  });

  it('1. the CLI lists every governed pod with its finding, skips finished pods, and exits 1', async () => {
    const run = await runCli(['audit', '--kubeconfig', cluster.kubeconfigPath, '--policy', policyPath, '-o', 'json']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as AuditReport;
    assert.deepEqual(report.pods.map(row), EXPECTED_ROWS);
    assert.equal(report.summary.scanned, 10, 'every pod but the Succeeded one');
    assert.equal(report.summary.governed, 8);
    assert.equal(report.summary.findings, 5);
    assert.deepEqual(report.summary.findingsByMode, { enforce: 2, warn: 2, audit: 1 });
    assert.equal(
      run.stderr,
      `sandbox-admission: policy ${policyPath} (SandboxPolicy "e2e-audit")\n` +
        'audit of all namespaces: 10 pods scanned (Succeeded/Failed skipped), 8 governed by the policy, 5 findings (enforce 2, warn 2, audit 1)\n',
    );
    const legacy = report.pods.find((p) => p.pod === 'old')!;
    assert.match(
      legacy.violations[0]!.message,
      /RuntimeClass "legacy-sandbox" uses handler "runc", which runs containers on the host kernel and is not a sandbox/,
    );
    assert.deepEqual(report.pods.find((p) => p.pod === 'hostnet')!.violations[0]!.paths, ['spec.hostNetwork']);
  });

  it('2. pages of 2 pods (limit + continue against the real API server) give the same answer', async () => {
    const run = await runCli(['audit', '--kubeconfig', cluster.kubeconfigPath, '--policy', policyPath, '-o', 'json', '--chunk-size', '2']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as AuditReport;
    assert.deepEqual(report.pods.map(row), EXPECTED_ROWS);
    assert.equal(report.summary.scanned, 10);
  });

  it('3. one namespace, as a table: exit 0 when its governed pods are all sandboxed', async () => {
    const run = await runCli(['audit', '--kubeconfig', cluster.kubeconfigPath, '--policy', policyPath, '--namespace', 'clean']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        'NAMESPACE   POD         RULE              MODE      RUNTIME   FINDING',
        'clean       sandboxed   namespace-label   enforce   gvisor    ok',
        '',
      ].join('\n'),
    );
    assert.equal(
      run.stderr,
      `sandbox-admission: policy ${policyPath} (SandboxPolicy "e2e-audit")\n` +
        'audit of namespace clean: 1 pod scanned (Succeeded/Failed skipped), 1 governed by the policy, no findings\n',
    );
  });

  it("4. a user who may not list pods gets exit 2 and the API server's reason", async () => {
    const user = issueCert(cluster.ca, { commonName: 'dev', usage: 'client' });
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'e2e', server: cluster.server, caData: Buffer.from(cluster.caPem).toString('base64'), skipTLSVerify: false }],
      users: [
        { name: 'dev', certData: Buffer.from(user.certPem).toString('base64'), keyData: Buffer.from(user.keyPem).toString('base64') },
      ],
      contexts: [{ name: 'e2e', cluster: 'e2e', user: 'dev' }],
      currentContext: 'e2e',
    });
    const path = join(cluster.dir, 'dev.kubeconfig');
    writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
    const run = await runCli(['audit', '--kubeconfig', path, '--policy', policyPath]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(
      run.stderr,
      /\nsandbox-admission: audit failed: API server answered 403: namespaces is forbidden: User "dev" cannot list resource "namespaces"/,
    );
  });

  it('5. the scanner exports the same findings as gauges after one scan', async () => {
    const loaded = loadPolicyFile(policyPath, 'sandbox-admission');
    assert.ok(loaded.ok);
    const metrics = createMetrics();
    const lines: Array<{ msg: string; data: object }> = [];
    const log = {
      info: (data: object, msg: string) => lines.push({ msg, data }),
      warn: (data: object, msg: string) => lines.push({ msg, data }),
    };
    // The real client (TEMPORARY adapter until kube-core's lands, issue 15), with the pod list requests counted:
    // 10 active pods in pages of 3 is 4 requests.
    const client = await productApiClient(cluster.kubeconfigPath);
    const continues: Array<string | undefined> = [];
    const request = client.request.bind(client);
    client.request = (sent) => {
      if (sent.path === '/api/v1/pods') continues.push(sent.query?.continue as string | undefined);
      return request(sent);
    };
    const scanner = createAuditScanner({
      client,
      policy: () => loaded.value.policy,
      metrics,
      log,
      intervalMs: 60_000,
      pageSize: 3,
    });
    const before = Date.now() / 1000;
    const summary = await scanner.scan();
    await scanner.stop();
    assert.equal(summary?.findings, 5);
    assert.equal(continues.length, 4);
    assert.equal(continues[0], undefined);
    assert.ok(continues.slice(1).every((token) => typeof token === 'string' && token.length > 0));

    const values = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
    const pods = Object.fromEntries((await values('sandbox_admission_audit_pods')).map((v) => [v.labels.state, v.value]));
    assert.deepEqual(pods, { scanned: 10, governed: 8, findings: 5 });
    const findings = Object.fromEntries(
      (await values('sandbox_admission_audit_findings')).map((v) => [`${String(v.labels.mode)}/${String(v.labels.kind)}`, v.value]),
    );
    assert.deepEqual(findings, {
      'enforce/unsupported-feature': 1,
      'enforce/no-sandbox-runtime': 1,
      'audit/runtime-not-allowed': 1,
      'warn/no-sandbox-runtime': 1,
      'warn/runtime-class-not-sandbox': 1,
    });
    const [last] = await values('sandbox_admission_audit_last_successful_scan_timestamp_seconds');
    assert.ok(last && last.value >= Math.floor(before) && last.value <= Date.now() / 1000 + 1);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['audit scan finished'],
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /sandbox_admission_audit_findings\{mode="enforce",kind="no-sandbox-runtime"\} 1/);
  });

  it('6. without --policy it audits against the policy in force: the ConfigMap the webhook mounts', async () => {
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'sandbox-admission',
      body: { metadata: { name: 'sandbox-admission-policy' }, data: { 'policy.yaml': POLICY } },
    });
    const run = await runCli(['audit', '--kubeconfig', cluster.kubeconfigPath, '-A', '-o', 'json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as AuditReport).pods.map(row), EXPECTED_ROWS);
    assert.match(
      run.stderr,
      /^sandbox-admission: policy ConfigMap sandbox-admission\/sandbox-admission-policy \(key policy\.yaml, the policy in force\) \(SandboxPolicy "e2e-audit"\)\n/,
    );
    const elsewhere = await runCli(['audit', '--kubeconfig', cluster.kubeconfigPath, '--webhook-namespace', 'apps']);
    assert.equal(elsewhere.code, 2);
    assert.match(
      elsewhere.stderr,
      /^ConfigMap apps\/sandbox-admission-policy .*: POLICY_READ: cannot read it: API server answered 404: configmaps "sandbox-admission-policy" not found; pass --policy <file>/,
    );
  });

  it('7. --context picks a context of the kubeconfig instead of its current one', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const real = kc.getCurrentContext();
    const context = kc.getContextObject(real)!;
    const path = join(cluster.dir, 'two-contexts.kubeconfig');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        ...kc.clusters.map((c) => ({ name: c.name, cluster: { server: c.server, 'certificate-authority-data': c.caData } })),
        { name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } },
      ],
      users: kc.users.map((u) => ({
        name: u.name,
        user: { 'client-certificate-data': u.certData, 'client-key-data': u.keyData, ...(u.token ? { token: u.token } : {}) },
      })),
      contexts: [
        { name: real, context: { cluster: context.cluster, user: context.user } },
        { name: 'broken', context: { cluster: 'nowhere', user: context.user } },
      ],
      'current-context': 'broken',
    };
    writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
    const current = await runCli(['audit', '--kubeconfig', path, '--policy', policyPath]);
    assert.equal(current.code, 2, 'the current context points nowhere');
    const chosen = await runCli(['audit', '--kubeconfig', path, '--context', real, '--policy', policyPath, '-n', 'clean']);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stdout, /^clean +sandboxed +namespace-label +enforce +gvisor +ok$/m);
  });

  it('8. evaluate -o manifests prints a stream the API server accepts (kubectl apply --dry-run=server -f -)', async () => {
    const input =
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, namespace: apps}, data: {a: b}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: apps}\nspec:\n  selector: {matchLabels: {app: untrusted}}\n  template:\n    metadata: {labels: {app: untrusted}}\n    spec: {containers: [{name: web, image: nginx}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: single, namespace: apps, labels: {app: untrusted}}\nspec: {containers: [{name: c, image: nginx}]}\n';
    const evaluated = spawnSync(process.execPath, [join(REPO, 'bin/sandbox-admission.js'), 'evaluate', '-f', '-', '-o', 'manifests'], {
      cwd: REPO,
      input,
      encoding: 'utf8',
    });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const applied = spawnSync(
      bins.binaries!.kubectl,
      [
        '--kubeconfig',
        cluster.kubeconfigPath,
        'apply',
        '--dry-run=server',
        '-f',
        '-',
        '-o',
        'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.spec.runtimeClassName}{.spec.template.spec.runtimeClassName} {end}',
      ],
      { input: evaluated.stdout, encoding: 'utf8' },
    );
    assert.equal(applied.status, 0, applied.stderr);
    assert.equal(applied.stdout.trim(), 'ConfigMap/cfg= Deployment/web=gvisor Pod/single=gvisor');
  });

  it("9. kubectl kustomize output piped into evaluate: every object read, the webhook's own namespace exempt", () => {
    const built = spawnSync(bins.binaries!.kubectl, ['kustomize', join(REPO, 'manifests')], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(built.status, 0, built.stderr);
    const evaluated = spawnSync(process.execPath, [join(REPO, 'bin/sandbox-admission.js'), 'evaluate', '-f', '-'], {
      cwd: REPO,
      input: built.stdout,
      encoding: 'utf8',
    });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.match(
      evaluated.stdout,
      /^allowed +Deployment\/sandbox-admission +sandbox-admission +- +- +exempt: namespace sandbox-admission is exempt$/m,
    );
    assert.match(evaluated.stdout, /^skipped +Namespace\/sandbox-admission /m);
    const objects = built.stdout.split(/^---$/m).filter((d) => /\bkind:/.test(d)).length;
    assert.match(
      evaluated.stderr,
      new RegExp(`^${objects} objects: 0 patched, 1 allowed, 0 denied, 0 warned, ${objects - 1} skipped, 0 errors$`, 'm'),
    );
  });
});
