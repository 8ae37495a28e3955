import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry } from '../../../src/audit/audit-pods.ts';
import { createPolicyReportPublisher } from '../../../src/audit/policy-report-publisher.ts';
import { buildPolicyReports } from '../../../src/audit/policy-reports.ts';
import type { LiveObject, ObjectWriter } from '../../../src/cluster/server-side-apply.ts';
import { kubeApiError } from '../helpers/fake-kube-api-client.ts';

const entry = (namespace: string, pod: string, mode: AuditEntry['mode'], finding = true): AuditEntry => ({
  namespace,
  pod,
  rule: 'untrusted',
  source: 'rule',
  mode,
  runtimeClassName: null,
  finding,
  violations: finding ? [{ kind: 'no-sandbox-runtime', message: `${pod} runs on the host kernel`, paths: ['spec.runtimeClassName'] }] : [],
});

describe('buildPolicyReports', () => {
  it('one report per namespace with findings, results sorted, enforce as fail and warn/audit as warn', () => {
    const reports = buildPolicyReports(
      [entry('b', 'z', 'enforce'), entry('b', 'a', 'audit'), entry('a', 'p', 'warn'), entry('c', 'fine', 'enforce', false)],
      'policy',
    );
    assert.deepEqual([...reports.keys()], ['a', 'b']);
    const b = reports.get('b')!;
    assert.deepEqual(b.summary, { pass: 0, fail: 1, warn: 1, error: 0, skip: 0 });
    assert.deepEqual(
      b.results.map((r) => [r.resources[0]!.name, r.result, r.severity, r.properties.mode]),
      [
        ['a', 'warn', 'low', 'audit'],
        ['z', 'fail', 'high', 'enforce'],
      ],
    );
    assert.equal(b.metadata.name, 'sandbox-admission');
    assert.equal(b.results[0]!.message, 'a runs on the host kernel');
    // The same findings in another order: the same report (an unchanged report is no write).
    assert.deepEqual(buildPolicyReports([entry('b', 'a', 'audit'), entry('b', 'z', 'enforce')], 'policy').get('b'), b);
  });
});

describe('createPolicyReportPublisher', () => {
  function fake(existing: string[]) {
    const calls: string[] = [];
    const writer: ObjectWriter = {
      list: async () =>
        existing.map((namespace): LiveObject => ({ metadata: { namespace, name: 'sandbox-admission', resourceVersion: '1' } })),
      apply: async (o) => {
        calls.push(`apply ${o.metadata?.namespace}`);
        return { metadata: { resourceVersion: o.metadata?.namespace === 'same' ? '1' : '2' } };
      },
      replace: async () => ({}),
      delete: async (o) => {
        calls.push(`delete ${o.metadata.namespace}`);
      },
    };
    return { writer, calls };
  }

  it('applies each report, deletes ours where nothing is wrong any more, and counts an unchanged one', async () => {
    const { writer, calls } = fake(['same', 'fixed']);
    const publish = createPolicyReportPublisher({ writer, isLeader: () => true, log: { info: () => undefined, warn: () => undefined } });
    const result = await publish(buildPolicyReports([entry('same', 'p', 'enforce'), entry('new', 'q', 'enforce')], 'policy'));
    assert.deepEqual(result, { applied: ['new'], deleted: ['fixed'], unchanged: 1, failed: [] });
    assert.deepEqual(calls, ['apply new', 'apply same', 'delete fixed']);
  });

  it('writes nothing when not leading, and says once that the CRD is missing', async () => {
    const { writer, calls } = fake([]);
    const warnings: string[] = [];
    assert.equal(
      await createPolicyReportPublisher({ writer, isLeader: () => false, log: { info: () => undefined, warn: () => undefined } })(
        new Map(),
      ),
      undefined,
    );
    writer.list = async () => {
      throw kubeApiError(404, 'the server could not find the requested resource');
    };
    const publish = createPolicyReportPublisher({
      writer,
      isLeader: () => true,
      log: { info: () => undefined, warn: (_d, m) => warnings.push(m) },
    });
    await publish(new Map());
    await publish(new Map());
    assert.equal(warnings.length, 1);
    assert.deepEqual(calls, []);
  });
});
