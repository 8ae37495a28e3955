import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decide } from '../../../src/decision/decide.ts';
import { toleratesAllOf } from '../../../src/decision/tolerations.ts';
import type { NodeSelectorTerm, Pod, Toleration } from '../../../src/k8s/pod.ts';
import { RULE_ANNOTATION } from '../../../src/policy/defaults.ts';
import { policyWithRules } from '../../helpers/policy.ts';
import { applyDecision } from '../../helpers/pods.ts';

// A profile whose keys need JSON Pointer escaping (`/`; label keys cannot hold `~`) so the property covers RFC 6901.
const policy = policyWithRules(
  `    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`,
  `  profiles:
    gvisor:
      runtimeClassName: gvisor
      nodeAffinity: [{key: sandbox.gke.io/runtime, operator: In, values: [gvisor]}]
      nodeSelector: {example.com/pool: sandbox}
      tolerations: [{key: sandbox.gke.io/runtime, operator: Equal, value: gvisor, effect: NoSchedule}]
      unsupported: [hostNetwork]
`,
);
const profile = policy.profiles.get('gvisor')!;

const key = fc.constantFrom('sandbox.gke.io/runtime', 'example.com/pool', 'zone', 'a/b.c', 'disk');
const value = fc.constantFrom('gvisor', 'sandbox', 'runc', 'a', '');
const requirement = fc.record({
  key,
  operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'),
  values: fc.array(value, { maxLength: 2 }),
});
const term: fc.Arbitrary<NodeSelectorTerm> = fc.record(
  { matchExpressions: fc.array(requirement, { maxLength: 3 }), matchFields: fc.array(requirement, { maxLength: 1 }) },
  { requiredKeys: [] },
);
const toleration: fc.Arbitrary<Toleration> = fc.record(
  {
    key: fc.constantFrom('sandbox.gke.io/runtime', 'gpu', ''),
    operator: fc.constantFrom('Equal', 'Exists'),
    value: fc.constantFrom('gvisor', 'x'),
    effect: fc.constantFrom('NoSchedule', 'NoExecute', ''),
  },
  { requiredKeys: [] },
);
const affinity = fc.oneof(
  fc.constant(undefined),
  fc.record({ podAntiAffinity: fc.constant({ keep: true }) }, { requiredKeys: [] }),
  fc.record({
    nodeAffinity: fc.record(
      {
        requiredDuringSchedulingIgnoredDuringExecution: fc.record(
          { nodeSelectorTerms: fc.array(term, { maxLength: 3 }) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    ),
  }),
);
const pod: fc.Arbitrary<Pod> = fc
  .record({
    labels: fc.oneof(
      fc.constant({ app: 'untrusted' }),
      fc.dictionary(fc.constantFrom('app', 'tier', 'x/y'), fc.constantFrom('untrusted', 'web')),
    ),
    annotations: fc.option(fc.dictionary(fc.constantFrom('a/b', 'c.d/e', RULE_ANNOTATION, 'plain'), fc.string({ maxLength: 5 })), {
      nil: undefined,
    }),
    runtimeClassName: fc.option(fc.constantFrom('gvisor', 'kata', 'runc', ''), { nil: undefined }),
    nodeSelector: fc.option(fc.dictionary(key, value), { nil: undefined }),
    tolerations: fc.option(fc.array(toleration, { maxLength: 3 }), { nil: undefined }),
    affinity,
    hostNetwork: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ labels, annotations, ...spec }) => {
    const p: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels },
      spec: { containers: [{ name: 'c', image: 'nginx' }] },
    };
    if (annotations) p.metadata!.annotations = annotations;
    for (const [k, v] of Object.entries(spec)) if (v !== undefined) (p.spec as Record<string, unknown>)[k] = v;
    // Reviews arrive as JSON.parse output; the round trip also drops fast-check's null-prototype objects.
    return JSON.parse(JSON.stringify(p)) as Pod;
  });

const run = (p: Pod) =>
  decide({ operation: 'CREATE', namespace: 'team-a', pod: p, namespaceFacts: { name: 'team-a', labels: {} }, policy });

/** Remove what the planner is allowed to touch, so the rest can be compared for collateral changes. */
function withoutPlannedFields(p: Pod): unknown {
  const copy = structuredClone(p);
  delete copy.metadata?.annotations?.[RULE_ANNOTATION];
  if (copy.metadata?.annotations && Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
  const spec = copy.spec!;
  delete spec.runtimeClassName;
  delete spec.nodeSelector?.['example.com/pool'];
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length === 0) delete spec.nodeSelector;
  delete spec.tolerations;
  delete spec.affinity;
  return copy;
}

test('property: the patch is valid RFC 6902 that fast-json-patch applies to the request object', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const before = structuredClone(p);
      applyDecision(p, run(p));
      assert.deepEqual(p, before, 'decide must not modify its input');
    }),
    { numRuns: 2000 },
  );
});

test('property: evaluating the mutated pod again yields no patch (reinvocation-safe)', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const first = run(p);
      fc.pre(first.allowed);
      const second = run(applyDecision(p, first));
      assert.deepEqual(second.patch, []);
      assert.equal(second.allowed, true);
    }),
    { numRuns: 2000 },
  );
});

test('property: an admitted pod that a sandbox rule matched in enforce mode always ends up sandboxed and scheduled for it', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const decision = run(p);
      fc.pre(decision.rule === 'untrusted-apps' && decision.allowed);
      const out = applyDecision(p, decision);
      assert.ok(['gvisor', 'kata'].includes(out.spec!.runtimeClassName!), `runtime ${out.spec!.runtimeClassName}`);
      if (out.spec!.runtimeClassName !== 'gvisor') return;
      assert.equal(out.spec!.nodeSelector?.['example.com/pool'], 'sandbox');
      const terms = out.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms!;
      assert.ok(terms.length > 0);
      for (const t of terms) {
        // Some expression of every term must confine the pod to gVisor nodes (In with values only from [gvisor]).
        assert.ok(
          t.matchExpressions!.some(
            (e) =>
              e.key === 'sandbox.gke.io/runtime' && e.operator === 'In' && e.values!.length > 0 && e.values!.every((v) => v === 'gvisor'),
          ),
        );
      }
      for (const wanted of profile.tolerations ?? []) assert.ok(out.spec!.tolerations!.some((t) => toleratesAllOf(t, wanted)));
    }),
    { numRuns: 2000 },
  );
});

test('property: the patch changes nothing outside runtime, scheduling and the rule annotation, and keeps what was there', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const out = applyDecision(p, run(p));
      assert.deepEqual(withoutPlannedFields(out), withoutPlannedFields(p));
      const before = p.spec!.tolerations ?? [];
      assert.deepEqual(out.spec!.tolerations?.slice(0, before.length) ?? [], before);
      const termsBefore = p.spec!.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
      const termsAfter = out.spec!.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
      termsBefore.forEach((t, i) => {
        assert.deepEqual(termsAfter[i]!.matchFields, t.matchFields);
        assert.deepEqual(
          termsAfter[i]!.matchExpressions?.slice(0, t.matchExpressions?.length ?? 0),
          t.matchExpressions ?? (termsAfter[i]!.matchExpressions ? [] : undefined),
        );
      });
    }),
    { numRuns: 2000 },
  );
});
