import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportedSeriesNames, metricNamesIn } from '../helpers/monitoring.ts';

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
