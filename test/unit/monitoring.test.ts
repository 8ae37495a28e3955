import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { DURATION_BUCKETS } from '../../src/observe/metrics.ts';
import { exportedSeriesNames, labelMatchersIn, metricNamesIn, readRuleSpec } from '../helpers/monitoring.ts';

test('metricNamesIn finds the selected metrics, not functions, labels, strings or variables', () => {
  assert.deepEqual(
    metricNamesIn(
      'sum by (namespace, le) (rate(sandbox_admission_x_bucket{namespace=~"$namespace",le!="+Inf"}[$__rate_interval])) / on (pod) group_left(version) sandbox_admission:y:rate5m > 0.5 * 86400',
    ).sort(),
    ['sandbox_admission:y:rate5m', 'sandbox_admission_x_bucket'],
  );
  assert.deepEqual(metricNamesIn('time() - max(sandbox_admission_audit_last_successful_scan_timestamp_seconds) > 1800'), [
    'sandbox_admission_audit_last_successful_scan_timestamp_seconds',
  ]);
  // A misspelled name is a name too: the check against the server's /metrics is what catches it.
  assert.deepEqual(metricNamesIn('max(sandbox_admission_policy_refussed)'), ['sandbox_admission_policy_refussed']);
});

test('exportedSeriesNames expands histograms into their series', () => {
  const text = '# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le="1"} 0\n# TYPE b_total counter\n# TYPE c gauge\n';
  const { families, series } = exportedSeriesNames(text);
  assert.deepEqual([...families.keys()], ['a_seconds', 'b_total', 'c']);
  assert.deepEqual([...series].sort(), ['a_seconds_bucket', 'a_seconds_count', 'a_seconds_sum', 'b_total', 'c']);
});

test('every webhook timeout is a latency bucket edge, and the p99 alert fires below the shortest one, at an edge', () => {
  const timeouts = ['mutating-webhook.yaml', 'validating-webhook.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(new URL(`../../manifests/base/${file}`, import.meta.url), 'utf8')).flatMap((d) =>
      (d.toJS() as { webhooks: Array<{ timeoutSeconds: number }> }).webhooks.map((w) => w.timeoutSeconds),
    ),
  );
  assert.ok(timeouts.length >= 6);
  const edges: readonly number[] = DURATION_BUCKETS;
  for (const t of timeouts) assert.ok(edges.includes(t) && t <= 10, `timeoutSeconds ${t} is no bucket edge`);
  const alert = readRuleSpec()
    .groups.flatMap((g) => g.rules)
    .find((r) => r.alert === 'SandboxAdmissionLatencyNearTimeout')!;
  const threshold = Number(/>\s*([\d.]+)\s*$/.exec(alert.expr.trim())![1]);
  assert.ok(edges.includes(threshold), `${threshold} is no bucket edge`);
  assert.ok(threshold < Math.min(...timeouts), `${threshold} is not below every timeout`);
});

test('labelMatchersIn reads the labels each selector matches on, not values that look like matchers', () => {
  assert.deepEqual(labelMatchersIn('sum(rate(a_total{namespace=~"$namespace",x="y=z"}[5m])) / b{le!="+Inf"} + c'), [
    { metric: 'a_total', labels: ['namespace', 'x'] },
    { metric: 'b', labels: ['le'] },
  ]);
});
