import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auditPod, auditPods, type AuditFacts } from '../../../src/audit/audit-pods.ts';
import type { Pod, PodSpec } from '../../../src/k8s/pod.ts';
import type { RuntimeClassFacts } from '../../../src/k8s/runtime-class.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';

const POLICY = policyWithRules(
  `${UNTRUSTED_TO_GVISOR}    - name: batch-exempt
      match: {namespaces: [batch]}
      action: exempt
    - name: audited
      match: {namespaces: [audited]}
      action: require
      allowedRuntimes: [gvisor]
      mode: audit
`,
  `  namespaceLabels: {enabled: true}
`,
);

const SANDBOX_CLASSES: ReadonlyMap<string, RuntimeClassFacts> = new Map([
  ['gvisor', { name: 'gvisor', handler: 'runsc' }],
  ['kata', { name: 'kata', handler: 'kata' }],
  ['runc', { name: 'runc', handler: 'runc' }],
]);

function facts(overrides: Partial<AuditFacts> = {}): AuditFacts {
  return {
    policy: POLICY,
    namespaceLabels: new Map<string, Record<string, string>>([
      ['apps', {}],
      ['labelled', { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' }],
      ['kube-system', {}],
    ]),
    runtimeClasses: SANDBOX_CLASSES,
    ...overrides,
  };
}

function pod(namespace: string, name: string, labels: Record<string, string>, spec: Partial<PodSpec> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec },
  };
}

const UNTRUSTED = { app: 'untrusted' };

describe('auditPod: a pod that already runs, judged as the validating backstop would judge its creation', () => {
  const cases: Array<{
    name: string;
    pod: Pod;
    facts?: Partial<AuditFacts>;
    expect: undefined | { rule: string; mode: string; runtime: string | null; kinds: string[]; paths?: string[] };
  }> = [
    {
      name: 'a sandboxed pod is governed and fine',
      pod: pod('apps', 'sandboxed', UNTRUSTED, { runtimeClassName: 'gvisor' }),
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: 'gvisor', kinds: [] },
    },
    {
      name: 'an unsandboxed governed pod is a finding (no mutation now: the rule can only insist)',
      pod: pod('apps', 'bare', UNTRUSTED),
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: null, kinds: ['no-sandbox-runtime'], paths: ['spec.runtimeClassName'] },
    },
    {
      name: 'runtimeClassName runc under a sandbox rule is a finding',
      pod: pod('apps', 'runc', UNTRUSTED, { runtimeClassName: 'runc' }),
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: 'runc', kinds: ['runtime-not-allowed'] },
    },
    { name: 'a pod no rule matches is not governed', pod: pod('apps', 'web', { app: 'web' }), expect: undefined },
    { name: 'a pod in an exempt namespace is not governed', pod: pod('kube-system', 'dns', UNTRUSTED), expect: undefined },
    { name: 'a pod in the webhook namespace is not governed', pod: pod('sandbox-admission', 'webhook', UNTRUSTED), expect: undefined },
    { name: 'a pod an exempt rule covers is not governed', pod: pod('batch', 'job', {}), expect: undefined },
    {
      name: 'a namespace label governs an unlabelled pod, in the label mode',
      pod: pod('labelled', 'plain', {}),
      expect: { rule: 'namespace-label', mode: 'warn', runtime: null, kinds: ['no-sandbox-runtime'] },
    },
    {
      name: 'a namespace-labelled pod in kata is fine',
      pod: pod('labelled', 'vm', {}, { runtimeClassName: 'kata' }),
      expect: { rule: 'namespace-label', mode: 'warn', runtime: 'kata', kinds: [] },
    },
    {
      name: 'a pod in a class whose handler was switched to runc is a finding',
      pod: pod('apps', 'switched', UNTRUSTED, { runtimeClassName: 'gvisor' }),
      facts: { runtimeClasses: new Map([['gvisor', { name: 'gvisor', handler: 'runc' }]]) },
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: 'gvisor', kinds: ['runtime-class-not-sandbox'] },
    },
    {
      name: 'a pod in a class that no longer exists is a finding',
      pod: pod('apps', 'orphan', UNTRUSTED, { runtimeClassName: 'gvisor' }),
      facts: { runtimeClasses: new Map() },
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: 'gvisor', kinds: ['runtime-class-missing'] },
    },
    {
      name: 'hostNetwork under a sandbox is a finding naming the field',
      pod: pod('apps', 'hostnet', UNTRUSTED, { runtimeClassName: 'gvisor', hostNetwork: true }),
      expect: { rule: 'untrusted-apps', mode: 'enforce', runtime: 'gvisor', kinds: ['unsupported-feature'], paths: ['spec.hostNetwork'] },
    },
    {
      name: 'an audit-mode rule reports in audit mode',
      pod: pod('audited', 'old', {}, { runtimeClassName: 'runc' }),
      expect: { rule: 'audited', mode: 'audit', runtime: 'runc', kinds: ['runtime-not-allowed'] },
    },
    {
      name: 'a namespace the scan has no labels for is judged without labels',
      pod: pod('new-ns', 'x', {}),
      facts: { namespaceLabels: new Map() },
      expect: undefined,
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const entry = auditPod(c.pod, facts(c.facts));
      if (c.expect === undefined) {
        assert.equal(entry, undefined);
        return;
      }
      assert.ok(entry, 'expected the pod to be governed');
      assert.equal(entry.namespace, c.pod.metadata!.namespace);
      assert.equal(entry.pod, c.pod.metadata!.name);
      assert.equal(entry.rule, c.expect.rule);
      assert.equal(entry.source, c.expect.rule === 'namespace-label' ? 'namespace-label' : 'rule');
      assert.equal(entry.mode, c.expect.mode);
      assert.equal(entry.runtimeClassName, c.expect.runtime);
      assert.deepEqual(
        entry.violations.map((v) => v.kind),
        c.expect.kinds,
      );
      assert.equal(entry.finding, c.expect.kinds.length > 0);
      if (c.expect.paths) assert.deepEqual(entry.violations[0]!.paths, c.expect.paths);
      for (const v of entry.violations) assert.ok(v.message.length > 0);
    });
  }

  test('a finding carries the message the pod would get at admission', () => {
    const entry = auditPod(pod('apps', 'bare', UNTRUSTED), facts());
    assert.match(
      entry!.violations[0]!.message,
      /rule "untrusted-apps" requires a sandbox runtime and the pod names none; set spec\.runtimeClassName to one of: gvisor, kata/,
    );
  });

  test('the pod is not modified', () => {
    const p = pod('apps', 'bare', UNTRUSTED);
    const before = structuredClone(p);
    auditPod(p, facts());
    assert.deepEqual(p, before);
  });
});

describe('auditPods: counts over a list', () => {
  test('scanned, governed and findings by mode and first violation kind; entries for governed pods only, in order', () => {
    const pods = [
      pod('apps', 'sandboxed', UNTRUSTED, { runtimeClassName: 'gvisor' }),
      pod('apps', 'bare', UNTRUSTED),
      pod('apps', 'bare-2', UNTRUSTED),
      pod('apps', 'hostnet', UNTRUSTED, { runtimeClassName: 'gvisor', hostNetwork: true }),
      pod('apps', 'web', { app: 'web' }),
      pod('kube-system', 'dns', UNTRUSTED),
      pod('labelled', 'plain', {}),
      pod('audited', 'old', {}, { runtimeClassName: 'runc' }),
    ];
    const { entries, summary } = auditPods(pods, facts());
    assert.deepEqual(
      entries.map((e) => `${e.namespace}/${e.pod}:${e.finding}`),
      ['apps/sandboxed:false', 'apps/bare:true', 'apps/bare-2:true', 'apps/hostnet:true', 'labelled/plain:true', 'audited/old:true'],
    );
    assert.equal(summary.scanned, 8);
    assert.equal(summary.governed, 6);
    assert.equal(summary.findings, 5);
    assert.deepEqual(summary.findingsByMode, { enforce: 3, warn: 1, audit: 1 });
    assert.deepEqual(summary.findingsByKind, [
      { mode: 'enforce', kind: 'no-sandbox-runtime', pods: 2 },
      { mode: 'enforce', kind: 'unsupported-feature', pods: 1 },
      { mode: 'warn', kind: 'no-sandbox-runtime', pods: 1 },
      { mode: 'audit', kind: 'runtime-not-allowed', pods: 1 },
    ]);
  });

  test('an empty cluster has nothing to report', () => {
    assert.deepEqual(auditPods([], facts()).summary, {
      scanned: 0,
      governed: 0,
      findings: 0,
      findingsByMode: { enforce: 0, warn: 0, audit: 0 },
      findingsByKind: [],
    });
  });
});
