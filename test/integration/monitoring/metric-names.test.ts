// Issue 14: every metric an alert, recording rule or dashboard query of manifests/components/monitoring names is one
// a real server exports, and the README lists exactly what it exports. The server is `sandbox-admission serve` as
// its own process, with --metrics-port; /metrics is scraped over HTTPS as the ServiceMonitor does it: the CA
// verified, the Service's DNS name (the ServiceMonitor's tlsConfig.serverName) checked against the certificate.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import type { ManagedProcess } from '../../e2e/harness/process.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { exportedSeriesNames, labelMatchersIn, metricNamesIn, monitoringQueries, readRuleSpec } from '../../helpers/monitoring.ts';
import { untrustedPod } from '../../helpers/pods.ts';
import { tableNames } from '../../helpers/readme.ts';
import { podReview } from '../../helpers/reviews.ts';
import { startServeProcess, waitForLog } from '../../helpers/serve-process.ts';
import { sendHttps } from '../admission/https-client.ts';

const REPO = new URL('../../../', import.meta.url);
const POLICY = fileURLToPath(new URL('manifests/base/policy.yaml', REPO));
const README = readFileSync(new URL('README.md', REPO), 'utf8');
const serviceMonitor = parse(readFileSync(new URL('manifests/components/monitoring/service-monitor.yaml', REPO), 'utf8')) as {
  spec: { endpoints: Array<{ path: string; tlsConfig: { serverName: string } }> };
};
const { serverName } = serviceMonitor.spec.endpoints[0]!.tlsConfig;

describe('the metrics the monitoring component uses, against a real server', () => {
  let dir: string;
  let proc: ManagedProcess;
  let caPem: string;
  let admissionPort: number;
  let metricsPort: number;
  let text: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-metrics-'));
    const now = new Date();
    const ca = createCertificateAuthority({ commonName: 'metrics-ca', validityDays: 1, now });
    const cert = createServingCertificate(ca, {
      commonName: serverName,
      dnsNames: [serverName, 'localhost'],
      ipAddresses: ['127.0.0.1'],
      validityDays: 1,
      now,
    });
    caPem = ca.certPem;
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
    proc = startServeProcess(dir, 'serve', [
      '--certificates',
      'files',
      '--tls-cert-file',
      join(dir, 'tls.crt'),
      '--tls-key-file',
      join(dir, 'tls.key'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--policy',
      POLICY,
      '--drain-delay',
      '0',
    ]);
    admissionPort = (await waitForLog(proc, 'sandbox-admission listening'))['port'] as number;
    metricsPort = (await waitForLog(proc, 'metrics listening'))['port'] as number;
    const review = (endpoint: string, body: unknown) =>
      sendHttps({
        port: admissionPort,
        ca: caPem,
        servername: serverName,
        method: 'POST',
        path: `/${endpoint}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // A few reviews of each kind: sandboxed, refused, exempt, ordinary, the backstop, and one malformed body.
    for (const [endpoint, body] of [
      ['mutate', podReview(untrustedPod())],
      ['mutate', podReview(untrustedPod({ runtimeClassName: 'runc' }))],
      ['mutate', podReview(untrustedPod(), { namespace: 'kube-system' })],
      ['mutate', podReview(untrustedPod({}, { app: 'web' }))],
      ['validate', podReview(untrustedPod({ runtimeClassName: 'gvisor' }))],
    ] as const) {
      assert.equal((await review(endpoint, body)).status, 200);
    }
    assert.equal((await review('mutate', { not: 'a review' })).status, 400);
    const scrape = await sendHttps({ port: metricsPort, ca: caPem, servername: serverName, path: serviceMonitor.spec.endpoints[0]!.path });
    assert.equal(scrape.status, 200);
    text = scrape.text;
  });

  after(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the reviews with the labels operators ask about', () => {
    for (const series of [
      'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="untrusted-apps",runtime="gvisor",action="patched",mode="enforce"} 1',
      'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="untrusted-apps",runtime="other",action="denied",mode="enforce"} 1',
      'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="none",runtime="none",action="exempt",mode="none"} 1',
      'sandbox_admission_violations_total{endpoint="mutate",rule="untrusted-apps",kind="runtime-not-allowed",mode="enforce"} 1',
      'sandbox_admission_bad_requests_total{code="REVIEW_API_VERSION"} 1',
    ]) {
      assert.ok(text.includes(`${series}\n`), `missing: ${series}\n${text}`);
    }
    assert.match(text, /^sandbox_admission_build_info\{version="\d+\.\d+\.\d+[^"]*",nodejs_version="v\d+[^"]*"\} 1$/m);
    assert.match(text, /^sandbox_admission_policy_info\{name="[^"]+",digest="[0-9a-f]{16}",rules="\d+"\} 1$/m);
    assert.match(text, /^sandbox_admission_request_duration_seconds_bucket\{le="10",endpoint="mutate"\} 5$/m);
  });

  it('exports no certificate, audit or drift gauge that does not apply (file-mode certificates, no cluster)', () => {
    for (const name of [
      'sandbox_admission_serving_certificate_expiry_timestamp_seconds',
      'sandbox_admission_certificate_authority_expiry_timestamp_seconds',
      'sandbox_admission_audit_last_successful_scan_timestamp_seconds',
      'sandbox_admission_admission_policy_stale',
    ]) {
      assert.doesNotMatch(text, new RegExp(`^${name}[ {]`, 'm'), name);
    }
  });

  it('exports every metric an alert, a recording rule or a dashboard query names', () => {
    const { series } = exportedSeriesNames(text);
    const recorded = new Set(readRuleSpec().groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
    const queries = monitoringQueries();
    assert.ok(queries.length > 20, `only ${queries.length} queries found`);
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((name) => !series.has(name) && !recorded.has(name))
        .map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(unknown, []);
    // Each recording rule is used by an alert or the dashboard.
    const used = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)));
    for (const name of recorded) assert.ok(used.has(name), `recording rule ${name} is never used`);
  });

  it('matches every metric on labels it has (its own, or those the Prometheus Operator adds to a target)', () => {
    const target = ['namespace', 'pod', 'job', 'instance', 'service', 'endpoint', 'container'];
    const labels = new Map<string, string[]>();
    for (const metric of createMetrics().registry.getMetricsAsArray()) {
      const own = [...((metric as unknown as { labelNames?: string[] }).labelNames ?? [])];
      const type = (metric as unknown as { type: string }).type;
      for (const suffix of type === 'histogram' ? ['_bucket', '_sum', '_count'] : ['']) {
        labels.set(`${metric.name}${suffix}`, [...own, ...(suffix === '_bucket' ? ['le'] : [])]);
      }
    }
    const wrong = monitoringQueries().flatMap(({ where, expr }) =>
      labelMatchersIn(expr)
        .filter(({ metric }) => labels.has(metric))
        .flatMap(({ metric, labels: used }) =>
          used.filter((l) => !target.includes(l) && !labels.get(metric)!.includes(l)).map((l) => `${where}: ${metric}{${l}}`),
        ),
    );
    assert.deepEqual(wrong, []);
  });

  it('the README lists every sandbox_admission_ metric the server exports, and no other', () => {
    const exported = [...exportedSeriesNames(text).families.keys()].filter((n) => n.startsWith('sandbox_admission_'));
    assert.deepEqual(tableNames(README, '### Metrics').sort(), exported.sort());
  });

  it('the metrics port serves /metrics and nothing else', async () => {
    const review = await sendHttps({
      port: metricsPort,
      ca: caPem,
      servername: serverName,
      method: 'POST',
      path: '/mutate',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(podReview(untrustedPod())),
    });
    assert.equal(review.status, 404);
    assert.equal((JSON.parse(review.text) as { code: string }).code, 'NOT_FOUND');
    // A client that does not trust the webhook's CA is refused at the handshake: verification is on, not skipped.
    const other = createCertificateAuthority({ commonName: 'someone-else', validityDays: 1, now: new Date() });
    await assert.rejects(sendHttps({ port: metricsPort, ca: other.certPem, servername: serverName, path: '/metrics' }));
  });
});
