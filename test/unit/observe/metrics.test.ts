import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, DURATION_BUCKETS, recordPolicyInfo, recordPolicyReload } from '../../../src/observe/metrics.ts';

/** The sample lines of one metric family (no # HELP / # TYPE). */
const samples = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('createMetrics', () => {
  it('registers the admission, policy and default metrics on its own registry', async () => {
    const metrics = createMetrics({ version: '1.2.3' });
    metrics.decisions.count({
      endpoint: 'mutate',
      resource: 'pod',
      rule: 'untrusted',
      runtime: 'gvisor',
      action: 'patched',
      mode: 'enforce',
    });
    metrics.admissionDuration.observe({ endpoint: 'mutate' }, 0.0004);
    metrics.badRequests.inc({ code: 'MALFORMED_JSON' });
    metrics.internalErrors.inc({ endpoint: 'validate' });
    const text = await metrics.registry.metrics();
    for (const name of [
      'sandbox_admission_decisions_total',
      'sandbox_admission_request_duration_seconds_bucket',
      'sandbox_admission_bad_requests_total',
      'sandbox_admission_internal_errors_total',
      'sandbox_admission_policy_reloads_total',
      'sandbox_admission_policy_last_successful_reload_timestamp_seconds',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
    assert.ok(
      text.includes(
        'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="untrusted",runtime="gvisor",action="patched",mode="enforce"} 1',
      ),
    );
    assert.ok(text.includes('sandbox_admission_request_duration_seconds_bucket{le="0.0005",endpoint="mutate"} 1'));
    assert.deepEqual(samples(text, 'sandbox_admission_build_info'), [
      `sandbox_admission_build_info{version="1.2.3",nodejs_version="${process.version}"} 1`,
    ]);
  });

  it('counts each decision once per review, in the cell of its labels', async () => {
    const metrics = createMetrics();
    const labels = { endpoint: 'mutate', resource: 'pod', rule: 'r', runtime: 'kata', action: 'denied', mode: 'enforce' } as const;
    for (let i = 0; i < 3; i++) metrics.decisions.count(labels);
    metrics.decisions.count({ ...labels, action: 'allowed' });
    const text = await metrics.registry.metrics();
    assert.deepEqual(samples(text, 'sandbox_admission_decisions_total'), [
      'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="r",runtime="kata",action="denied",mode="enforce"} 3',
      'sandbox_admission_decisions_total{endpoint="mutate",resource="pod",rule="r",runtime="kata",action="allowed",mode="enforce"} 1',
    ]);
    // A scrape copies, it does not move: the next one sees the same totals plus what came since.
    metrics.decisions.count(labels);
    assert.match(await metrics.registry.metrics(), /action="denied",mode="enforce"\} 4\n/);
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
    assert.ok(text.includes('sandbox_admission_policy_refused 1\n'));
    recordPolicyReload(metrics, 'success', new Date('2026-01-03T00:00:00Z'));
    assert.ok((await metrics.registry.metrics()).includes('sandbox_admission_policy_refused 0\n'));
  });

  it('shows one policy_info series, the policy in force', async () => {
    const metrics = createMetrics();
    recordPolicyInfo(metrics, { name: 'old', digest: 'aaaa', rules: 2 });
    recordPolicyInfo(metrics, { name: 'new', digest: 'bbbb', rules: 3 });
    assert.deepEqual(samples(await metrics.registry.metrics(), 'sandbox_admission_policy_info'), [
      'sandbox_admission_policy_info{name="new",digest="bbbb",rules="3"} 1',
    ]);
  });

  it('leaves out the gauges that do not apply until something sets them (no 0 to alert on)', async () => {
    const metrics = createMetrics();
    const absent = [
      'sandbox_admission_serving_certificate_expiry_timestamp_seconds',
      'sandbox_admission_certificate_authority_expiry_timestamp_seconds',
      'sandbox_admission_audit_last_successful_scan_timestamp_seconds',
      'sandbox_admission_admission_policy_stale',
    ];
    const before = await metrics.registry.metrics();
    for (const name of absent) assert.deepEqual(samples(before, name), [], name);
    metrics.servingCertificateExpiry.set(1800000000);
    metrics.admissionPolicyStale.set(0);
    const after = await metrics.registry.metrics();
    assert.deepEqual(samples(after, absent[0]!), [`${absent[0]} 1800000000`]);
    assert.deepEqual(samples(after, absent[3]!), [`${absent[3]} 0`]);
  });

  it('has latency buckets up to the longest webhook timeout, with an edge at the alert threshold', () => {
    assert.equal(DURATION_BUCKETS.at(-1), 10);
    for (const edge of [2.5, 3, 5]) assert.ok(DURATION_BUCKETS.includes(edge as never), `${edge}`);
  });
});
