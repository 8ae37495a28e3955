// Issue 14: manifests/components/monitoring with real tools. promtool (built from its Go module) checks the
// PrometheusRule's rules and runs their unit tests, and a copy with one expectation flipped must fail. Every flavour
// rendered with the component (and the NetworkPolicy) by the real kubectl: the ServiceMonitor reaches the metrics
// port the Deployment opens and verifies the certificate the webhook serves. The ServiceMonitor and PrometheusRule
// are applied to a real kube-apiserver that has the two CRDs (cut down to the fields used, from the operator's API),
// so a misspelled or mistyped field is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { secretDataKeys } from '../../src/tls/certificate-secret-store.ts';
import { buildServiceDnsNames } from '../../src/tls/certificate-state.ts';
import { readRuleSpec } from '../helpers/monitoring.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { startCluster, type Cluster } from './harness/cluster.ts';
import type { Manifest } from './harness/manifests.ts';
import { resolvePromtool } from './harness/promtool.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('./monitoring/prometheus-rule.promtool.yaml', import.meta.url));
const CRDS = fileURLToPath(new URL('./monitoring/prometheus-operator-crds.yaml', import.meta.url));
const DASHBOARD = join(REPO, 'manifests/components/monitoring/dashboards/sandbox-admission.json');
const NS = 'sandbox-admission';
const FLAVOURS = ['base', '.', 'overlays/cert-manager', 'overlays/gke-sandbox', 'overlays/kata', 'overlays/native'] as const;

const promtool = resolvePromtool();
const bins = resolveBinaries();

/** `out`: stdout and stderr together, for messages; `stdout` alone for output to parse. */
function run(bin: string, args: string[], cwd?: string, input?: string): { status: number | null; out: string; stdout: string } {
  const r = spawnSync(bin, args, { cwd, input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe('the PrometheusRule, with promtool', { skip: promtool.skip ?? false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-promtool-'));
    writeFileSync(join(dir, 'rules.yaml'), stringify(readRuleSpec()));
    copyFileSync(RULE_TESTS, join(dir, 'tests.yaml'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const promtoolIn = (args: string[]) => run(promtool.promtool!, args, dir);

  it('promtool check rules accepts the rules; a broken expression is refused', () => {
    const checked = promtoolIn(['check', 'rules', 'rules.yaml']);
    assert.equal(checked.status, 0, checked.out);
    assert.match(checked.out, /SUCCESS: \d+ rules found/);
    const broken = readRuleSpec();
    broken.groups[1]!.rules[0]!.expr = 'min by (namespace (sandbox_admission_serving_certificate_expiry_timestamp_seconds';
    writeFileSync(join(dir, 'broken.yaml'), stringify(broken));
    assert.equal(promtoolIn(['check', 'rules', 'broken.yaml']).status, 1);
  });

  it('every alert has a test where it fires and one where it stays quiet', () => {
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of readRuleSpec().groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])))) {
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert}: no case where it fires`,
      );
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
        `${alert}: no case where it stays quiet`,
      );
    }
  });

  it('promtool test rules passes the rule unit tests', () => {
    const tested = promtoolIn(['test', 'rules', 'tests.yaml']);
    assert.equal(tested.status, 0, tested.out);
    assert.match(tested.out, /SUCCESS/);
  });

  it('the tests can fail: an alert expected quiet where it fires, or a weakened threshold, makes promtool fail', () => {
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as {
      tests: Array<{ name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const firing = tests.tests.flatMap((t) => t.alert_rule_test ?? []).find((c) => c.exp_alerts.length > 0)!;
    firing.exp_alerts = [];
    writeFileSync(join(dir, 'flipped.yaml'), stringify(tests));
    const flipped = promtoolIn(['test', 'rules', 'flipped.yaml']);
    assert.equal(flipped.status, 1, flipped.out);
    assert.match(flipped.out, new RegExp(firing.alertname));

    // A rule that no longer fires at 10% errors fails its firing case.
    const weakened = readRuleSpec();
    const errors = weakened.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SandboxAdmissionErrors')!;
    errors.expr = errors.expr.replace('> 0.01', '> 0.5');
    writeFileSync(join(dir, 'rules.yaml'), stringify(weakened));
    try {
      const failed = promtoolIn(['test', 'rules', 'tests.yaml']);
      assert.equal(failed.status, 1, failed.out);
      assert.match(failed.out, /SandboxAdmissionErrors/);
    } finally {
      writeFileSync(join(dir, 'rules.yaml'), stringify(readRuleSpec()));
    }
  });
});

type Port = { name?: string; port?: number; containerPort?: number; targetPort?: string | number };
type Container = { name: string; args: string[]; ports: Port[] };

/** `kubectl kustomize` of a kustomization that takes `flavour` and the given components, from a temp dir. */
function renderWith(kubectl: string, flavour: string, components: string[]): Manifest[] {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-kustomize-'));
  try {
    // kustomize takes directories outside its root only as relative paths.
    const rel = (p: string) => relative(dir, join(REPO, 'manifests', p));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [rel(flavour)],
        components: components.map((c) => rel(`components/${c}`)),
      }),
    );
    const r = run(kubectl, ['kustomize', dir]);
    assert.equal(r.status, 0, `${flavour} + ${components.join(', ')}: ${r.out}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Manifest)
      .filter((m) => m !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function one<T>(objects: Manifest[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as unknown as T;
}

describe('every flavour with the monitoring component, rendered by kubectl', { skip: bins.skip ?? false }, () => {
  const rendered = new Map<string, Manifest[]>();
  before(() => {
    for (const flavour of FLAVOURS) rendered.set(flavour, renderWith(bins.binaries!.kubectl, flavour, ['monitoring', 'network-policy']));
  });

  it('adds only the metrics port, the ServiceMonitor, the PrometheusRule and the dashboard to the flavour', () => {
    for (const flavour of FLAVOURS) {
      const without = renderWith(bins.binaries!.kubectl, flavour, ['network-policy']);
      const added = rendered
        .get(flavour)!
        .filter((o) => !without.some((w) => w.kind === o.kind && w.metadata?.name === o.metadata?.name))
        .map((o) => `${o.kind}/${o.metadata?.name}`);
      assert.deepEqual(added.sort(), [
        'ConfigMap/sandbox-admission-dashboard',
        'PrometheusRule/sandbox-admission',
        'ServiceMonitor/sandbox-admission',
      ]);
    }
  });

  it('the ServiceMonitor scrapes the metrics port the Deployment opens, over HTTPS, verifying the certificate', () => {
    for (const flavour of FLAVOURS) {
      const objects = rendered.get(flavour)!;
      const monitor = one<{
        metadata: { namespace: string };
        spec: {
          selector: { matchLabels: Record<string, string> };
          namespaceSelector: { matchNames: string[] };
          endpoints: Array<{
            port: string;
            scheme: string;
            path: string;
            tlsConfig: { serverName: string; insecureSkipVerify?: boolean; ca: { secret: { name: string; key: string } } };
          }>;
        };
      }>(objects, 'ServiceMonitor');
      const service = one<{ metadata: { namespace: string; labels: Record<string, string>; name: string }; spec: { ports: Port[] } }>(
        objects,
        'Service',
      );
      const deployment = one<{ spec: { template: { spec: { containers: Container[] } } } }>(objects, 'Deployment');
      const container = deployment.spec.template.spec.containers[0]!;
      assert.equal(monitor.metadata.namespace, NS, flavour);
      assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace], flavour);
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[k], v, flavour);
      assert.equal(monitor.spec.endpoints.length, 1);
      const endpoint = monitor.spec.endpoints[0]!;
      const servicePort = service.spec.ports.find((p) => p.name === endpoint.port);
      assert.ok(servicePort, `${flavour}: the Service has no port ${endpoint.port}`);
      const containerPort = container.ports.find((p) => p.name === servicePort.targetPort);
      assert.ok(containerPort, `${flavour}: the container has no port ${servicePort.targetPort}`);
      assert.ok(container.args.includes(`--metrics-port=${containerPort.containerPort}`), `${flavour}: ${container.args.join(' ')}`);
      // The admission port stays the first one (the probes and the admission Service port use it by name).
      assert.equal(container.ports[0]!.name, 'https');
      assert.equal(endpoint.scheme, 'https');
      assert.equal(endpoint.path, '/metrics');
      assert.equal(endpoint.tlsConfig.insecureSkipVerify, undefined, 'verification is never turned off');
      assert.ok(buildServiceDnsNames(service.metadata.name, NS).includes(endpoint.tlsConfig.serverName), endpoint.tlsConfig.serverName);
      assert.equal(endpoint.tlsConfig.ca.secret.key, secretDataKeys.caBundlePem);
      const filesMode = container.args.includes('--certificates=files');
      if (!filesMode) {
        // Self-managed: the Secret the webhook keeps its CA bundle in (serve's --tls-secret default).
        assert.equal(endpoint.tlsConfig.ca.secret.name, 'sandbox-admission-tls', flavour);
      } else {
        // cert-manager: README "Metrics" says to patch the name to the serving Certificate's Secret.
        const certificate = objects.find(
          (o) => o.kind === 'Certificate' && o.metadata?.name === 'sandbox-admission-serving',
        ) as unknown as {
          spec: { secretName: string; dnsNames: string[] };
        };
        assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(`the CA is in \`${certificate.spec.secretName}\``));
        assert.ok(certificate.spec.dnsNames.includes(endpoint.tlsConfig.serverName));
      }
    }
  });

  it('the NetworkPolicy opens the admission port to the API server and the metrics port to Prometheus, by the container ports', () => {
    for (const flavour of FLAVOURS) {
      const objects = rendered.get(flavour)!;
      const container = one<{ spec: { template: { spec: { containers: Container[] } } } }>(objects, 'Deployment').spec.template.spec
        .containers[0]!;
      const byName = new Map(container.ports.map((p) => [p.name, p.containerPort]));
      const policy = one<{ spec: { ingress: Array<{ ports: Array<{ port: number }>; from: Array<Record<string, unknown>> }> } }>(
        objects,
        'NetworkPolicy',
      );
      const opened = new Map(policy.spec.ingress.map((rule) => [rule.ports.map((p) => p.port).join(','), rule.from]));
      assert.deepEqual([...opened.keys()].sort(), [String(byName.get('https')), String(byName.get('metrics'))].sort(), flavour);
      assert.ok(
        opened.get(String(byName.get('https')))!.every((f) => 'ipBlock' in f),
        'admission: the API server source only',
      );
      assert.ok(
        opened.get(String(byName.get('metrics')))!.every((f) => 'namespaceSelector' in f && 'podSelector' in f),
        "metrics: Prometheus's pods only",
      );
    }
  });

  it('ships the dashboard file as a ConfigMap for the Grafana sidecar', () => {
    const file = readFileSync(DASHBOARD, 'utf8');
    for (const flavour of FLAVOURS) {
      const map = rendered
        .get(flavour)!
        .find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'sandbox-admission-dashboard') as unknown as {
        metadata: { labels: Record<string, string>; namespace: string };
        data: Record<string, string>;
      };
      assert.equal(map.metadata.labels['grafana_dashboard'], '1');
      assert.deepEqual(Object.keys(map.data), ['sandbox-admission.json']);
      assert.equal(map.data['sandbox-admission.json'], file);
    }
    const dashboard = JSON.parse(file) as { uid: string; panels: Array<{ id: number; type: string; targets?: Array<{ expr: string }> }> };
    assert.equal(dashboard.uid, 'sandbox-admission');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.ok(
      dashboard.panels.filter((p) => p.type !== 'row').every((p) => (p.targets ?? []).length > 0),
      'every panel queries',
    );
  });
});

describe('the ServiceMonitor and PrometheusRule against the CRDs, in a real API server', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let objects: Manifest[];
  const kubectl = (args: string[], input?: string) =>
    run(bins.binaries!.kubectl, ['--kubeconfig', cluster.kubeconfigPath, ...args], undefined, input);

  before(async () => {
    cluster = await startCluster({ binaries: bins.binaries! });
    const crds = kubectl(['apply', '--server-side', '-f', CRDS]);
    assert.equal(crds.status, 0, crds.out);
    const established = kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
    assert.equal(established.status, 0, established.out);
    assert.equal(kubectl(['create', 'namespace', NS]).status, 0);
    objects = renderWith(bins.binaries!.kubectl, '.', ['monitoring']).filter((o) => o.apiVersion === 'monitoring.coreos.com/v1');
    assert.equal(objects.length, 2);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('accepts both as rendered (strict field validation)', () => {
    const applied = kubectl(
      ['apply', '--server-side', '--validate=strict', '-f', '-'],
      objects.map((o) => `---\n${stringify(o)}`).join(''),
    );
    assert.equal(applied.status, 0, applied.out);
    const got = kubectl(['-n', NS, 'get', 'servicemonitor,prometheusrule', '-o', 'name']);
    assert.deepEqual(got.stdout.trim().split('\n').sort(), [
      'prometheusrule.monitoring.coreos.com/sandbox-admission',
      'servicemonitor.monitoring.coreos.com/sandbox-admission',
    ]);
  });

  it('refuses a misspelled field and a mistyped one, so the acceptance means something', () => {
    const monitor = structuredClone(objects.find((o) => o.kind === 'ServiceMonitor')!) as unknown as {
      spec: { endpoints: Array<Record<string, unknown> & { tlsConfig: Record<string, unknown> }> };
    };
    monitor.spec.endpoints[0]!.tlsConfig['insecureSkipVerfy'] = true;
    const misspelled = kubectl(['apply', '--server-side', '--validate=strict', '-f', '-'], stringify(monitor));
    assert.notEqual(misspelled.status, 0);
    assert.match(misspelled.out, /insecureSkipVerfy/);
    const rule = structuredClone(objects.find((o) => o.kind === 'PrometheusRule')!) as unknown as {
      spec: { groups: Array<{ rules: Array<Record<string, unknown>> }> };
    };
    rule.spec.groups[1]!.rules[0]!['for'] = 'an hour';
    const mistyped = kubectl(['apply', '--server-side', '--validate=strict', '-f', '-'], stringify(rule));
    assert.notEqual(mistyped.status, 0);
    assert.match(mistyped.out, /for/);
  });
});
