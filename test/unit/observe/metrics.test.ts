import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, recordPolicyReload } from '../../../src/observe/metrics.ts';

describe('createMetrics', () => {
  it('registers the admission, policy and default metrics on its own registry', async () => {
    const metrics = createMetrics();
    metrics.admissionRequests.inc({ endpoint: 'mutate', action: 'sandbox', outcome: 'patched', mode: 'enforce' });
    metrics.admissionDuration.observe({ endpoint: 'mutate' }, 0.0004);
    metrics.badRequests.inc({ code: 'MALFORMED_JSON' });
    metrics.internalErrors.inc({ endpoint: 'validate' });
    const text = await metrics.registry.metrics();
    for (const name of [
      'sandbox_admission_requests_total',
      'sandbox_admission_request_duration_seconds_bucket',
      'sandbox_admission_bad_requests_total',
      'sandbox_admission_internal_errors_total',
      'sandbox_admission_policy_reloads_total',
      'sandbox_admission_policy_last_successful_reload_timestamp_seconds',
      'sandbox_admission_serving_certificate_expiry_timestamp_seconds',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
    assert.ok(text.includes('sandbox_admission_requests_total{endpoint="mutate",action="sandbox",outcome="patched",mode="enforce"} 1'));
    assert.ok(text.includes('sandbox_admission_request_duration_seconds_bucket{le="0.0005",endpoint="mutate"} 1'));
  });

  it('keeps registries apart, so two instances can coexist', async () => {
    const first = createMetrics();
    const second = createMetrics();
    first.badRequests.inc({ code: 'X' });
    assert.ok((await first.registry.metrics()).includes('sandbox_admission_bad_requests_total{code="X"} 1'));
    assert.ok(!(await second.registry.metrics()).includes('code="X"'));
  });

  it('moves the last-successful-reload clock only on success', async () => {
    const metrics = createMetrics();
    recordPolicyReload(metrics, 'success', new Date('2026-01-01T00:00:00Z'));
    recordPolicyReload(metrics, 'failure', new Date('2026-01-02T00:00:00Z'));
    const text = await metrics.registry.metrics();
    assert.ok(text.includes('sandbox_admission_policy_reloads_total{result="success"} 1'));
    assert.ok(text.includes('sandbox_admission_policy_reloads_total{result="failure"} 1'));
    assert.ok(text.includes('sandbox_admission_policy_last_successful_reload_timestamp_seconds 1767225600'));
  });
});
