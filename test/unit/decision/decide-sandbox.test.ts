import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../../src/decision/decide.ts';
import { RULE_ANNOTATION } from '../../../src/policy/defaults.ts';
import { policyFrom, policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { applyDecision, decideCreate, untrustedPod } from '../../helpers/pods.ts';

const policy = policyWithRules(UNTRUSTED_TO_GVISOR);
const GKE_REQUIREMENT = { key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] };
const GKE_TOLERATION = { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' };

describe('sandboxing a pod with no runtimeClassName', () => {
  test('injects runtimeClassName, GKE node affinity, toleration and the rule annotation', () => {
    const pod = untrustedPod();
    const decision = decideCreate(policy, pod);
    assert.equal(decision.allowed, true);
    assert.equal(decision.rule, 'untrusted-apps');
    assert.equal(decision.runtimeClassName, 'gvisor');
    const result = applyDecision(pod, decision);
    assert.equal(result.spec?.runtimeClassName, 'gvisor');
    assert.deepEqual(result.spec?.affinity, {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [GKE_REQUIREMENT] }] } },
    });
    assert.deepEqual(result.spec?.tolerations, [GKE_TOLERATION]);
    assert.equal(result.metadata?.annotations?.[RULE_ANNOTATION], 'untrusted-apps');
    assert.match(decision.warnings.join('\n'), /runs in gVisor \(runtimeClassName gvisor\) by rule "untrusted-apps"/);
  });

  test('escapes "/" in annotation keys as ~1 in the patch path', () => {
    const pod = untrustedPod();
    pod.metadata!.annotations = { existing: 'x' };
    const decision = decideCreate(policy, pod);
    assert.ok(decision.patch.some((op) => op.path === '/metadata/annotations/sandbox-admission.io~1rule'));
    assert.deepEqual(applyDecision(pod, decision).metadata?.annotations, { existing: 'x', [RULE_ANNOTATION]: 'untrusted-apps' });
  });

  test('never touches spec.overhead (the RuntimeClass admission plugin owns it)', () => {
    const pod = untrustedPod();
    const decision = decideCreate(policy, pod);
    assert.ok(decision.patch.every((op) => !op.path.startsWith('/spec/overhead')));
    const withOverhead = untrustedPod({ overhead: { cpu: '250m' } });
    assert.deepEqual(applyDecision(withOverhead, decideCreate(policy, withOverhead)).spec?.overhead, { cpu: '250m' });
  });

  test('a pod that matches no rule is left alone', () => {
    const decision = decideCreate(policy, untrustedPod({}, { app: 'web' }));
    assert.equal(decision.allowed, true);
    assert.equal(decision.source, 'not-governed');
    assert.deepEqual(decision.patch, []);
    assert.deepEqual(decision.warnings, []);
  });
});

describe('node affinity merge', () => {
  test('adds the requirement to every existing nodeSelectorTerm (terms ORed, expressions ANDed)', () => {
    const terms = [
      { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] },
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] },
      { matchExpressions: [{ key: 'disk', operator: 'Exists' }] },
    ];
    const pod = untrustedPod({
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: structuredClone(terms) } } },
    });
    const result = applyDecision(pod, decideCreate(policy, pod));
    const merged = result.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    assert.deepEqual(merged, [
      { matchExpressions: [terms[0]!.matchExpressions![0]!, GKE_REQUIREMENT] },
      { matchFields: terms[1]!.matchFields, matchExpressions: [GKE_REQUIREMENT] },
      { matchExpressions: [terms[2]!.matchExpressions![0]!, GKE_REQUIREMENT] },
    ]);
  });

  test('keeps preferred affinity and pod (anti-)affinity while creating the required term', () => {
    const preferred = [{ weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } }];
    const pod = untrustedPod({
      affinity: { podAntiAffinity: { x: 1 }, nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred } },
    });
    const result = applyDecision(pod, decideCreate(policy, pod));
    assert.deepEqual(result.spec?.affinity, {
      podAntiAffinity: { x: 1 },
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: preferred,
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [GKE_REQUIREMENT] }] },
      },
    });
  });

  test('does not add a requirement a term already has (values compared as sets)', () => {
    const pod = untrustedPod({
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [GKE_REQUIREMENT] }] } },
      },
    });
    assert.ok(decideCreate(policy, pod).patch.every((op) => !op.path.startsWith('/spec/affinity')));
  });

  test('a term that contradicts the requirement is a conflict and the pod is rejected', () => {
    const pod = untrustedPod({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'sandbox.gke.io/runtime', operator: 'DoesNotExist' }] }],
          },
        },
      },
    });
    const decision = decideCreate(policy, pod);
    assert.equal(decision.allowed, false);
    assert.match(decision.message!, /node affinity term 0 requires sandbox\.gke\.io\/runtime DoesNotExist/);
  });
});

describe('tolerations', () => {
  const cases: Array<[string, object]> = [
    ['an identical toleration', GKE_TOLERATION],
    ['an empty key with Exists (tolerates everything)', { operator: 'Exists' }],
    ['the same key with Exists', { key: 'sandbox.gke.io/runtime', operator: 'Exists' }],
    ['the same key and value with an empty effect', { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor' }],
    [
      'the same key and value with an empty operator (means Equal)',
      { key: 'sandbox.gke.io/runtime', value: 'gvisor', effect: 'NoSchedule' },
    ],
  ];
  for (const [name, toleration] of cases) {
    test(`adds none when the pod already has ${name}`, () => {
      const pod = untrustedPod({ tolerations: [toleration] });
      const result = applyDecision(pod, decideCreate(policy, pod));
      assert.deepEqual(result.spec?.tolerations, [toleration]);
    });
  }

  test('appends after unrelated tolerations without reordering them', () => {
    const other = [
      { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'kata', effect: 'NoSchedule' },
    ];
    const pod = untrustedPod({ tolerations: structuredClone(other) });
    const decision = decideCreate(policy, pod);
    assert.deepEqual(
      decision.patch.filter((op) => op.path.startsWith('/spec/tolerations')),
      [{ op: 'add', path: '/spec/tolerations/-', value: GKE_TOLERATION }],
    );
    assert.deepEqual(applyDecision(pod, decision).spec?.tolerations, [...other, GKE_TOLERATION]);
  });
});

describe('nodeSelector', () => {
  const withSelector = policyWithRules(
    UNTRUSTED_TO_GVISOR,
    `  profiles:
    gvisor:
      runtimeClassName: gvisor
      nodeSelector: {sandbox.gke.io/runtime: gvisor}
`,
  );

  test('adds the profile nodeSelector keys next to the pod own keys', () => {
    const pod = untrustedPod({ nodeSelector: { 'kubernetes.io/os': 'linux' } });
    const decision = decideCreate(withSelector, pod);
    assert.ok(decision.patch.some((op) => op.path === '/spec/nodeSelector/sandbox.gke.io~1runtime'));
    assert.deepEqual(applyDecision(pod, decision).spec?.nodeSelector, { 'kubernetes.io/os': 'linux', 'sandbox.gke.io/runtime': 'gvisor' });
  });

  test('a pod nodeSelector key with another value is rejected, naming both values', () => {
    const decision = decideCreate(withSelector, untrustedPod({ nodeSelector: { 'sandbox.gke.io/runtime': 'runc' } }));
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message!,
      /spec\.nodeSelector\["sandbox\.gke\.io\/runtime"\] is "runc" but runtime profile "gvisor" needs "gvisor"/,
    );
  });
});

describe('pods that already name a runtime', () => {
  test('an allowed sandbox runtime is kept and only its scheduling completed', () => {
    const pod = untrustedPod({ runtimeClassName: 'kata' });
    const decision = decideCreate(policy, pod);
    assert.equal(decision.allowed, true);
    assert.equal(decision.runtimeClassName, 'kata');
    const result = applyDecision(pod, decision);
    assert.equal(result.spec?.runtimeClassName, 'kata');
    // The kata profile carries no scheduling of its own (its RuntimeClass does), so only the annotation is added.
    assert.deepEqual(decision.patch, [{ op: 'add', path: '/metadata/annotations', value: { [RULE_ANNOTATION]: 'untrusted-apps' } }]);
  });

  test('an allowed runtime missing its scheduling gets it, without switching runtimes', () => {
    const pod = untrustedPod({ runtimeClassName: 'gvisor', tolerations: [GKE_TOLERATION] });
    const result = applyDecision(pod, decideCreate(policy, pod));
    assert.equal(result.spec?.runtimeClassName, 'gvisor');
    assert.deepEqual(result.spec?.tolerations, [GKE_TOLERATION]);
    assert.ok(result.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
  });

  test('allowedRuntimes narrows what a pod may ask for', () => {
    const narrow = policyWithRules(`    - name: gvisor-only
      action: sandbox
      runtime: gvisor
      allowedRuntimes: [gvisor]
`);
    const decision = decideCreate(narrow, untrustedPod({ runtimeClassName: 'kata' }));
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message!,
      /asks for runtimeClassName "kata" but rule "gvisor-only" requires a sandbox runtime \(allowed: gvisor\)/,
    );
  });
});

describe('what is never mutated', () => {
  test('UPDATE is admitted unchanged', () => {
    const decision = decide({ operation: 'UPDATE', namespace: 'team-a', pod: untrustedPod(), namespaceFacts: undefined, policy });
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.patch, []);
    assert.equal(decision.source, 'not-applicable');
  });

  test('DELETE and CONNECT are admitted unchanged', () => {
    for (const operation of ['DELETE', 'CONNECT']) {
      assert.deepEqual(decide({ operation, namespace: 'team-a', pod: untrustedPod(), namespaceFacts: undefined, policy }).patch, []);
    }
  });

  test('mirror pods created by a kubelet are not mutated', () => {
    const pod = untrustedPod();
    pod.metadata!.annotations = { 'kubernetes.io/config.mirror': 'abc' };
    const decision = decideCreate(policy, pod, {
      requester: { username: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'] },
    });
    assert.equal(decision.source, 'mirror-pod');
    assert.deepEqual(decision.patch, []);
  });

  test('the mirror annotation alone, from a user, does not escape the policy', () => {
    const pod = untrustedPod();
    pod.metadata!.annotations = { 'kubernetes.io/config.mirror': 'abc' };
    const decision = decideCreate(policy, pod, { requester: { username: 'mallory', groups: ['system:authenticated'] } });
    assert.equal(decision.rule, 'untrusted-apps');
    assert.equal(applyDecision(pod, decision).spec?.runtimeClassName, 'gvisor');
  });

  for (const namespace of ['kube-system', 'kube-public', 'kube-node-lease', 'sandbox-admission']) {
    test(`namespace ${namespace} is exempt by default`, () => {
      const decision = decideCreate(policy, untrustedPod(), { namespace });
      assert.equal(decision.source, 'exempt-namespace');
      assert.deepEqual(decision.patch, []);
    });
  }

  test('exemptNamespaces replaces the defaults but the webhook namespace stays exempt', () => {
    const custom = policyFrom(`apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
spec:
  exemptNamespaces: [infra]
  rules:
${UNTRUSTED_TO_GVISOR}`);
    assert.equal(decideCreate(custom, untrustedPod(), { namespace: 'infra' }).source, 'exempt-namespace');
    assert.equal(decideCreate(custom, untrustedPod(), { namespace: 'sandbox-admission' }).source, 'exempt-namespace');
    assert.equal(decideCreate(custom, untrustedPod(), { namespace: 'kube-public' }).rule, 'untrusted-apps');
  });
});
