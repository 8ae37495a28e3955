import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAuditScanner, type AuditScannerLog } from '../../../src/audit/audit-scanner.ts';
import { createMetrics, type Metrics } from '../../../src/observe/metrics.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { kubeApiError } from '../helpers/fake-kube-api-client.ts';
import { ALL_PODS_PATH, fakeApis, fakePod, NAMESPACES_PATH, sampleCluster, type FakeApis } from './fake-apis.ts';

const POLICY = policyWithRules(UNTRUSTED_TO_GVISOR, '  namespaceLabels: {enabled: true}\n');
const NOW = new Date('2026-11-23T12:00:00Z');

function recordingLog(): AuditScannerLog & { lines: Array<{ level: string; msg: string; data: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; data: Record<string, unknown> }> = [];
  return {
    lines,
    info: (data, msg) => lines.push({ level: 'info', msg, data: data as Record<string, unknown> }),
    warn: (data, msg) => lines.push({ level: 'warn', msg, data: data as Record<string, unknown> }),
  };
}

function scannerWith(apis: FakeApis, extra: { intervalMs?: number; initialDelayMs?: number; metrics?: Metrics } = {}) {
  const metrics = extra.metrics ?? createMetrics();
  const log = recordingLog();
  const scanner = createAuditScanner({
    client: apis,
    policy: () => POLICY,
    metrics,
    log,
    now: () => NOW,
    pageSize: 2,
    ...extra,
  });
  return { scanner, metrics, log };
}

/** Each scan starts with a first page of namespaces. */
function scansStarted(apis: FakeApis): number {
  return apis.requestsTo(NAMESPACES_PATH).filter((r) => r.query?.continue === undefined).length;
}

async function gauge(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return Object.fromEntries(
    metric.values.map((v) => [
      Object.entries(v.labels)
        .map(([k, l]) => `${k}=${String(l)}`)
        .join(','),
      v.value,
    ]),
  );
}

describe('createAuditScanner', () => {
  test('a scan exports the findings by mode and kind, the pod counts and the time it finished, and logs one summary line', async () => {
    const { scanner, metrics, log } = scannerWith(fakeApis(sampleCluster()));
    const summary = await scanner.scan();
    assert.equal(summary?.findings, 3);
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_findings'), {
      'mode=enforce,kind=no-sandbox-runtime': 1,
      'mode=enforce,kind=unsupported-feature': 1,
      'mode=warn,kind=no-sandbox-runtime': 1,
    });
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_pods'), {
      'state=scanned': 7,
      'state=governed': 5,
      'state=findings': 3,
    });
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_last_successful_scan_timestamp_seconds'), { '': NOW.getTime() / 1000 });
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_scans_total'), { 'result=success': 1 });
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.msg]),
      [['info', 'audit scan finished']],
    );
    assert.deepEqual(log.lines[0]!.data, {
      scanned: 7,
      governed: 5,
      findings: 3,
      findingsByMode: { enforce: 2, warn: 1, audit: 0 },
      durationMs: 0,
    });
  });

  test('a later scan replaces the series: a kind that is gone drops to no series, counts go to 0', async () => {
    const cluster = sampleCluster();
    const { scanner, metrics } = scannerWith(fakeApis(cluster));
    await scanner.scan();
    cluster.pods = [fakePod('apps', 'sandboxed', { app: 'untrusted' }, { runtimeClassName: 'gvisor' })];
    await scanner.scan();
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_findings'), {});
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_pods'), {
      'state=scanned': 1,
      'state=governed': 1,
      'state=findings': 0,
    });
  });

  test('an API error is logged and counted, never thrown, and the gauges keep the last good scan', async () => {
    const apis = fakeApis(sampleCluster());
    const { scanner, metrics, log } = scannerWith(apis);
    await scanner.scan();
    apis.failNext(ALL_PODS_PATH, kubeApiError(403, 'pods is forbidden'));
    assert.equal(await scanner.scan(), undefined);
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_scans_total'), { 'result=success': 1, 'result=failure': 1 });
    assert.equal((await gauge(metrics, 'sandbox_admission_audit_pods'))['state=findings'], 3);
    const failure = log.lines.at(-1)!;
    assert.equal(failure.level, 'warn');
    assert.equal(failure.msg, 'audit scan failed');
    assert.equal(failure.data.err, 'API server answered 403: pods is forbidden');
  });

  test('a policy getter that throws is a failed scan too', async () => {
    const metrics = createMetrics();
    const scanner = createAuditScanner({
      client: fakeApis(sampleCluster()),
      policy: () => {
        throw new Error('no policy');
      },
      metrics,
      log: recordingLog(),
    });
    assert.equal(await scanner.scan(), undefined);
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_scans_total'), { 'result=failure': 1 });
  });

  test('scans never overlap: a scan asked for while one runs joins it', async () => {
    const apis = fakeApis(sampleCluster());
    const { scanner, metrics } = scannerWith(apis);
    const release = apis.holdPodLists();
    const first = scanner.scan();
    const second = scanner.scan();
    assert.equal(first, second);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([first, second]);
    assert.equal(scansStarted(apis), 1);
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_scans_total'), { 'result=success': 1 });
    await scanner.scan();
    assert.equal(scansStarted(apis), 2);
  });

  test('start scans after the initial delay and then every interval; stop ends it', async () => {
    const apis = fakeApis(sampleCluster());
    const { scanner } = scannerWith(apis, { initialDelayMs: 5, intervalMs: 20 });
    const t0 = Date.now();
    scanner.start();
    scanner.start();
    while (scansStarted(apis) < 3 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    await scanner.stop();
    const scans = scansStarted(apis);
    assert.ok(scans >= 3, `expected repeated scans, got ${scans}`);
    // Initial delay plus two intervals at least (a second start() scheduled nothing extra).
    assert.ok(Date.now() - t0 >= 5 + 2 * 20 - 2, `three scans after ${Date.now() - t0} ms`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(scansStarted(apis), scans, 'no scan after stop');
    assert.equal(await scanner.scan(), undefined, 'a stopped scanner does not scan');
  });

  test('stop during a scan ends it at the next page, without recording it', async () => {
    const apis = fakeApis(sampleCluster());
    const { scanner, metrics } = scannerWith(apis);
    const release = apis.holdPodLists();
    const running = scanner.scan();
    await new Promise((r) => setTimeout(r, 10));
    const stopped = scanner.stop();
    release();
    await stopped;
    assert.equal(await running, undefined);
    assert.equal(apis.requestsTo(ALL_PODS_PATH).length, 1);
    assert.deepEqual(await gauge(metrics, 'sandbox_admission_audit_scans_total'), {});
  });
});
