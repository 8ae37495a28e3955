// Sandboxing with no webhook on the path: the MutatingAdmissionPolicy and ValidatingAdmissionPolicies that
// `sandbox-admission render map` / `render vap` generate, alone in a real kube-apiserver (no webhook configuration
// at all). Every pod goes through decide() (with mutation, no cluster facts) and, as a dry-run create, through the
// API server; what the API server stores must be decide()'s patch applied to the pod, in every field decide()
// touches, and a pod decide() refuses must be refused.
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { renderVapText } from '../../src/cli/render-vap-command.ts';
import { decide } from '../../src/decision/decide.ts';
import type { Decision } from '../../src/decision/types.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import { parsePolicy } from '../../src/policy/parse.ts';
import type { Policy } from '../../src/policy/types.ts';
import { applyDecision } from '../helpers/pods.ts';
import { plain, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { kubeletConfig, mirrorPod, podOf, tryCreate } from './harness/pod-admission.ts';

const bins = resolveBinaries();
const WEBHOOK_NAMESPACE = 'sandbox-admission';
const SEED = 20261201;
const GENERATED = 2000;

// Profiles with every kind of scheduling: two affinity requirements, nodeSelector keys with "/", tolerations one
// of which an existing NoExecute one only covers when its time limit is long enough, and a kata profile whose
// second toleration the first already covers (never added). Rules: exempt, two sandbox rules (one warn), require.
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-map}
spec:
  exemptNamespaces: [kube-system, ops]
  namespaceLabels: {enabled: true, defaultMode: enforce}
  profiles:
    gvisor:
      runtimeClassName: gvisor
      displayName: gVisor
      nodeAffinity:
        - {key: sandbox.gke.io/runtime, operator: In, values: [gvisor]}
        - {key: kubernetes.io/arch, operator: NotIn, values: [s390x]}
      nodeSelector: {sandbox.example/pool: gvisor, "node.example/ready": "true"}
      tolerations:
        - {key: sandbox.gke.io/runtime, operator: Equal, value: gvisor, effect: NoSchedule}
        - {key: sandbox.gke.io/runtime, operator: Exists, effect: NoExecute, tolerationSeconds: 60}
      unsupported: [hostNetwork, hostPID, hostIPC, privileged, hostPath, unmaskedProcMount]
    kata:
      runtimeClassName: kata
      displayName: Kata Containers
      nodeAffinity: [{key: katacontainers.io/kata-runtime, operator: Exists}]
      tolerations:
        - {key: kata, operator: Exists, effect: NoSchedule}
        - {key: kata, operator: Equal, value: "yes", effect: NoSchedule}
      unsupported: [hostNetwork, privileged]
    # Its RuntimeClass runs runc: the webhook refuses pods routed to it, and so does the RuntimeClass check (params).
    fake:
      runtimeClassName: fake-sandbox
  rules:
    - name: platform-exempt
      match: {namespaces: [team-platform], podSelector: {matchLabels: {tier: system}}}
      action: exempt
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
    - name: team-namespaces
      match: {namespaces: ["team-*"]}
      action: sandbox
      runtime: kata
      allowedRuntimes: [kata]
    - name: builders
      match: {serviceAccounts: ["builder-*"]}
      action: sandbox
      runtime: gvisor
      mode: warn
    - name: regulated
      match: {namespaceSelector: {matchLabels: {compliance: pci}}}
      action: require
`;

const NAMESPACES: Record<string, Record<string, string>> = {
  apps: {},
  'team-a': {},
  'team-platform': {},
  pci: { compliance: 'pci' },
  'ns-gvisor': { 'sandbox-admission.io/runtime': 'gvisor' },
  'ns-kata-warn': { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' },
  'ns-unknown': { 'sandbox-admission.io/runtime': 'nosuch' },
  ops: { 'sandbox-admission.io/runtime': 'gvisor' },
  [WEBHOOK_NAMESPACE]: { 'sandbox-admission.io/runtime': 'gvisor' },
};

interface Case {
  what: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Partial<k8s.V1PodSpec>;
}

const UNTRUSTED = { app: 'untrusted' };
const GVISOR_TAINT = { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' };
const required = (...terms: k8s.V1NodeSelectorTerm[]): k8s.V1Affinity => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
});
const zone = { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] };

const CASES: Case[] = [
  { what: 'ordinary pod', namespace: 'apps' },
  { what: 'sandbox rule, nothing set: everything added', namespace: 'apps', labels: UNTRUSTED },
  { what: 'a kata namespace', namespace: 'team-a' },
  {
    what: 'an allowed class asked for: scheduling completed, class kept',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'kata' },
  },
  { what: 'runc asked for: refused', namespace: 'apps', labels: UNTRUSTED, spec: { runtimeClassName: 'runc' } },
  { what: 'an unsupported feature: refused, nothing added', namespace: 'apps', labels: UNTRUSTED, spec: { hostPID: true } },
  {
    what: 'two equal terms: each gets the requirements',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { affinity: required({ matchExpressions: [zone] }, { matchExpressions: [zone] }) },
  },
  {
    what: 'a term of matchFields only gets matchExpressions; a term that has one requirement gets the other',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: {
      affinity: required(
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] },
        { matchExpressions: [{ key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] }] },
      ),
    },
  },
  {
    what: 'preferred affinity only: a required term is created beside it',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: {
      affinity: {
        nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [zone] } }] },
      },
    },
  },
  {
    what: 'a contradicting term: refused',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { affinity: required({ matchExpressions: [{ key: 'sandbox.gke.io/runtime', operator: 'DoesNotExist' }] }) },
  },
  {
    what: 'an empty key with Exists tolerates everything',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { tolerations: [{ operator: 'Exists' }] },
  },
  {
    what: 'the exact toleration and an effect-less Exists: nothing added',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { tolerations: [GVISOR_TAINT, { key: 'sandbox.gke.io/runtime', operator: 'Exists' }] },
  },
  {
    what: 'a shorter NoExecute limit does not cover a longer one',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { tolerations: [{ key: 'sandbox.gke.io/runtime', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }] },
  },
  {
    what: 'a longer NoExecute limit covers',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { tolerations: [{ key: 'sandbox.gke.io/runtime', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }] },
  },
  {
    what: 'nodeSelector: a key already right, one missing',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { nodeSelector: { 'sandbox.example/pool': 'gvisor', zone: 'a' } },
  },
  {
    what: 'nodeSelector conflict: refused',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { nodeSelector: { 'sandbox.example/pool': 'other' } },
  },
  {
    what: 'a nodeSelector entry contradicting the profile node affinity: refused (issue 10 meets issue 11)',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { nodeSelector: { 'sandbox.gke.io/runtime': 'other' } },
  },
  {
    what: 'a nodeSelector entry contradicting a NotIn of the profile, with an allowed class: left alone',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'gvisor', nodeSelector: { 'kubernetes.io/arch': 's390x' } },
  },
  {
    what: 'the rule annotation set to something else is replaced',
    namespace: 'apps',
    labels: UNTRUSTED,
    annotations: { 'sandbox-admission.io/rule': 'forged', other: 'kept' },
  },
  { what: 'an exempt rule shields the sandbox rule', namespace: 'team-platform', labels: { tier: 'system', ...UNTRUSTED } },
  { what: 'exempt namespace beats label and rule', namespace: 'ops', labels: UNTRUSTED },
  { what: 'the webhook namespace is exempt', namespace: WEBHOOK_NAMESPACE, labels: UNTRUSTED },
  { what: 'namespace label: its profile', namespace: 'ns-gvisor' },
  { what: 'namespace label: another allowed class is kept', namespace: 'ns-gvisor', spec: { runtimeClassName: 'kata' } },
  { what: 'namespace label in warn mode still moves the pods it can', namespace: 'ns-kata-warn' },
  { what: 'warn label, a pod it cannot move: unchanged', namespace: 'ns-kata-warn', spec: { hostNetwork: true } },
  { what: 'a sandbox rule in warn mode', namespace: 'apps', spec: { serviceAccountName: 'builder-1' } },
  { what: 'an enforcing label beats a softer rule', namespace: 'ns-gvisor', spec: { serviceAccountName: 'builder-1' } },
  { what: 'unknown profile in the label: refused', namespace: 'ns-unknown' },
  { what: 'a require rule never mutates', namespace: 'pci', spec: { runtimeClassName: 'gvisor' } },
];

// Generated pods: real-world scheduling shapes (several terms, matchFields, expressions that already hold or
// contradict, tolerations of every operator incl. empty-key Exists and NoExecute limits, nodeSelector keys that
// agree or conflict), every namespace, labels, service accounts, classes and an unsupported feature.
const EXPRESSIONS: k8s.V1NodeSelectorRequirement[] = [
  { key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] },
  { key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor', 'other'] },
  { key: 'sandbox.gke.io/runtime', operator: 'In', values: ['other'] },
  { key: 'sandbox.gke.io/runtime', operator: 'Exists' },
  { key: 'kubernetes.io/arch', operator: 'NotIn', values: ['s390x'] },
  { key: 'kubernetes.io/arch', operator: 'In', values: ['s390x'] },
  { key: 'katacontainers.io/kata-runtime', operator: 'Exists' },
  { key: 'katacontainers.io/kata-runtime', operator: 'DoesNotExist' },
  zone,
];
const TOLERATIONS: k8s.V1Toleration[] = [
  GVISOR_TAINT,
  { operator: 'Exists' },
  { operator: 'Exists', effect: 'NoSchedule' },
  { key: 'sandbox.gke.io/runtime', operator: 'Exists' },
  { key: 'sandbox.gke.io/runtime', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'sandbox.gke.io/runtime', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
  { key: 'sandbox.gke.io/runtime', value: 'gvisor' },
  { key: 'kata', operator: 'Exists' },
  { key: 'kata', value: 'yes', effect: 'NoSchedule' },
  { key: 'other', operator: 'Exists', effect: 'NoSchedule' },
];
const term: fc.Arbitrary<k8s.V1NodeSelectorTerm> = fc
  .record(
    {
      matchExpressions: fc.subarray(EXPRESSIONS, { minLength: 1, maxLength: 3 }),
      matchFields: fc.constant<k8s.V1NodeSelectorRequirement[]>([{ key: 'metadata.name', operator: 'In', values: ['node-1'] }]),
    },
    { requiredKeys: [] },
  )
  .filter((t) => t.matchExpressions !== undefined || t.matchFields !== undefined);
const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    namespace: fc.constantFrom(...Object.keys(NAMESPACES)),
    labels: fc.record({ app: fc.constantFrom('untrusted', 'web'), tier: fc.constantFrom('system', 'web') }, { requiredKeys: [] }),
    spec: fc.record(
      {
        // Mostly pods that name no class and use nothing a profile refuses: the ones a mutation is for.
        runtimeClassName: fc.constantFrom(undefined, undefined, undefined, 'gvisor', 'kata', 'runc'),
        serviceAccountName: fc.constantFrom('default', 'builder-1'),
        hostNetwork: fc.constantFrom(undefined, undefined, undefined, undefined, undefined, true),
        affinity: fc.array(term, { minLength: 1, maxLength: 3 }).map((terms) => required(...terms)),
        tolerations: fc.subarray(TOLERATIONS, { minLength: 1, maxLength: 3 }),
        nodeSelector: fc.record(
          { 'sandbox.example/pool': fc.constantFrom('gvisor', 'other'), 'node.example/ready': fc.constant('true'), zone: fc.constant('a') },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    ),
  })
  .map((c) => ({ ...(JSON.parse(JSON.stringify(c)) as Case), what: 'generated' }));

/** What decide() touches, normalized as the API server stores it (empty strings and lists dropped). */
function touched(pod: k8s.V1Pod | Pod): unknown {
  const spec = (pod.spec ?? {}) as k8s.V1PodSpec;
  return normalize({
    annotations: pod.metadata?.annotations,
    runtimeClassName: spec.runtimeClassName,
    affinity: spec.affinity,
    // The DefaultTolerationSeconds plugin adds these to every pod (before any mutating policy runs).
    tolerations: spec.tolerations?.filter(
      (t) => !(t.tolerationSeconds === 300 && ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].includes(t.key ?? '')),
    ),
    nodeSelector: spec.nodeSelector,
  });
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, normalize(v)] as const)
      .filter(([, v]) => v !== undefined && v !== '');
    return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  return value;
}

const ADMIN = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };

function decideFor(policy: Policy, namespace: string, pod: k8s.V1Pod): Decision {
  return decide({
    operation: 'CREATE',
    namespace,
    pod: structuredClone(pod) as Pod,
    requester: ADMIN,
    namespaceFacts: { name: namespace, labels: NAMESPACES[namespace] ?? {} },
    policy,
  });
}

/** Refused by decide() only for a scheduling conflict, with an allowed class: the validating policies cannot see that. */
function isConflictOnly(decision: Decision): boolean {
  return decision.runtimeClassName !== undefined && decision.violations.every((v) => v.kind === 'scheduling-conflict');
}

describe('the generated MutatingAdmissionPolicy with no webhook at all', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let core: k8s.CoreV1Api;
  let policy: Policy;

  before(
    async () => {
      const parsed = parsePolicy(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE });
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
      policy = parsed.value;
      cluster = await startCluster({ binaries: bins.binaries! });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      // RuntimeClasses without scheduling or overhead: the RuntimeClass plugin then adds nothing of its own.
      const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
      for (const [name, handler] of [
        ['gvisor', 'runsc'],
        ['kata', 'kata'],
        ['runc', 'runc'],
        ['fake-sandbox', 'runc'],
      ] as const)
        await node.createRuntimeClass({ body: { metadata: { name }, handler } });
      for (const [name, labels] of Object.entries(NAMESPACES)) await createNamespace(cluster.kubeConfig, name, labels);
      await createNamespace(cluster.kubeConfig, 'ns-fake', { 'sandbox-admission.io/runtime': 'fake' });
      for (const namespace of Object.keys(NAMESPACES))
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'builder-1' } } });

      // Exactly what `render map` and `render vap` print, applied as kubectl would.
      for (const kind of ['map', 'vap'] as const) {
        const rendered = renderVapText(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE, output: 'yaml' }, kind);
        assert.ok(rendered.ok);
        for (const doc of parseAllDocuments(rendered.text) as Array<{ toJS(): unknown }>)
          await objects.create(doc.toJS() as k8s.KubernetesObject);
      }
      // Policies act once the API server's informers have them: poll with dry-run creates.
      let probe = 0;
      await waitFor(
        async () => (await tryCreate(core, 'apps', podOf(`probe-${probe++}`, UNTRUSTED))).stored?.spec?.runtimeClassName === 'gvisor',
      );
      await waitFor(
        async () => !(await tryCreate(core, 'apps', podOf(`probe-${probe++}`, UNTRUSTED, { runtimeClassName: 'runc' }))).allowed,
      );
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await cluster?.stop();
  });

  it('1. the API server accepted the policy without type-check warnings', async () => {
    const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
    const list = (await admission.listMutatingAdmissionPolicy()) as { items: Array<{ metadata?: k8s.V1ObjectMeta; status?: unknown }> };
    assert.deepEqual(
      list.items.map((p) => p.metadata?.name),
      ['sandbox-admission-sandbox'],
    );
    const status = list.items[0]!.status as { typeChecking?: { expressionWarnings?: unknown[] } } | undefined;
    assert.equal(status?.typeChecking?.expressionWarnings?.length ?? 0, 0, JSON.stringify(status));
  });

  /** Every case through decide() and the API server; returns the disagreements and how many pods were compared. */
  async function compareWithDecide(
    cases: readonly Case[],
    prefix: string,
  ): Promise<{ mismatches: string[]; counts: Record<string, number> }> {
    const mismatches: string[] = [];
    const counts: Record<string, number> = {};
    const count = (k: string) => {
      counts[k] = (counts[k] ?? 0) + 1;
    };
    for (const [i, c] of cases.entries()) {
      const pod = podOf(`${prefix}-${i}`, c.labels, c.spec);
      if (c.annotations) pod.metadata!.annotations = c.annotations;
      const decision = decideFor(policy, c.namespace, pod);
      const answer = await tryCreate(core, c.namespace, pod);
      const label = `${prefix}-${i} ${c.what} (${c.namespace}) ${JSON.stringify({ labels: c.labels, spec: c.spec })}`;
      if (!decision.allowed) {
        if (!answer.allowed) count('refused by both');
        else if (isConflictOnly(decision) && JSON.stringify(touched(answer.stored!)) === JSON.stringify(touched(pod)))
          count('conflict: admitted unchanged');
        else mismatches.push(`${label}: decide() refuses (${decision.message}), the API server admitted it`);
        continue;
      }
      if (!answer.allowed) {
        mismatches.push(`${label}: refused by the API server: ${answer.message}`);
        continue;
      }
      const expected = applyDecision(structuredClone(pod) as Pod, decision);
      const want = JSON.stringify(touched(expected));
      const got = JSON.stringify(touched(answer.stored!));
      if (want !== got) mismatches.push(`${label}\n  api:    ${got}\n  decide: ${want}`);
      else count(decision.patch.length > 0 ? 'mutated, identical' : 'unchanged, identical');
      // Idempotent: decide()'s result created again is stored as it is (the policy adds nothing the second time).
      if (decision.patch.length > 0) {
        const again = await tryCreate(core, c.namespace, expected as k8s.V1Pod);
        if (!again.allowed || JSON.stringify(touched(again.stored!)) !== want)
          mismatches.push(`${label}: not idempotent: ${JSON.stringify(touched(again.stored ?? {}))}`);
        assert.equal(decideFor(policy, c.namespace, expected as k8s.V1Pod).patch.length, 0);
      }
    }
    return { mismatches, counts };
  }

  it('2. every case of the table: the API server stores what decide() makes of the pod', async () => {
    const { mismatches, counts } = await compareWithDecide(CASES, 'case');
    process.stderr.write(`[e2e] map table: ${CASES.length} pods ${JSON.stringify(counts)}\n`);
    assert.deepEqual(mismatches, []);
    assert.ok((counts['mutated, identical'] ?? 0) >= 15, JSON.stringify(counts));
  });

  it(`3. ${GENERATED} generated pods (seed ${SEED}): the API server stores what decide() makes of each`, async () => {
    const cases = fc.sample(arbitraryCase, { seed: SEED, numRuns: GENERATED });
    const { mismatches, counts } = await compareWithDecide(cases, 'random');
    process.stderr.write(
      `[e2e] map generated (seed ${SEED}): ${cases.length} pods ${JSON.stringify(counts)}, ${mismatches.length} differences\n`,
    );
    assert.deepEqual(mismatches, []);
    for (const k of ['mutated, identical', 'unchanged, identical', 'refused by both'])
      assert.ok((counts[k] ?? 0) >= 20, `only ${counts[k] ?? 0} "${k}": ${JSON.stringify(counts)}`);
  });

  it('4. a real create is stored sandboxed; a mirror pod from its node is left alone, a forged one is not', async () => {
    const answer = await tryCreate(core, 'apps', podOf('real', UNTRUSTED), false);
    assert.ok(answer.allowed, answer.message);
    const stored = await core.readNamespacedPod({ namespace: 'apps', name: 'real' });
    assert.equal(stored.spec?.runtimeClassName, 'gvisor');
    assert.equal(stored.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');

    const nodeConfig = kubeletConfig(cluster, 'node-1');
    const mirror = (name: string) => mirrorPod(name, 'node-1');
    const byNode = await tryCreate(nodeConfig.makeApiClient(k8s.CoreV1Api), 'ns-gvisor', mirror('static-web-node-1'));
    assert.ok(byNode.allowed, byNode.message);
    assert.equal(byNode.stored?.spec?.runtimeClassName, undefined);
    const forged = await tryCreate(core, 'ns-gvisor', mirror('static-web-forged'));
    assert.ok(forged.allowed, forged.message);
    assert.equal(forged.stored?.spec?.runtimeClassName, 'gvisor');
  });

  it('5. a class whose RuntimeClass runs runc is refused as the webhook refuses it (RuntimeClasses as params)', async () => {
    const runtimeClasses = new Map(
      [
        ['gvisor', 'runsc'],
        ['kata', 'kata'],
        ['runc', 'runc'],
        ['fake-sandbox', 'runc'],
      ].map(([name, handler]) => [name!, { name: name!, handler: handler! }]),
    );
    const withFacts = (namespace: string, labels: Record<string, string>, pod: k8s.V1Pod): Decision =>
      decide({
        operation: 'CREATE',
        namespace,
        pod: structuredClone(pod) as Pod,
        requester: ADMIN,
        namespaceFacts: { name: namespace, labels },
        policy,
        runtimeClasses,
      });
    const label = { 'sandbox-admission.io/runtime': 'fake' };
    for (const [namespace, labels, pod] of [
      ['ns-fake', label, podOf('injected')],
      ['apps', {}, podOf('asked', UNTRUSTED, { runtimeClassName: 'fake-sandbox' })],
    ] as const) {
      const decision = withFacts(namespace, labels, pod);
      assert.equal(decision.allowed, false);
      assert.deepEqual(
        decision.violations.map((v) => v.kind),
        ['runtime-class-not-sandbox'],
      );
      const answer = await tryCreate(core, namespace, pod);
      assert.equal(answer.allowed, false, `${namespace}: admitted`);
      assert.ok(
        answer.message.endsWith(
          `ValidatingAdmissionPolicy 'sandbox-admission-runtime-class-enforce' with binding 'sandbox-admission-runtime-class-enforce' denied request: ${decision.message}`,
        ),
        `${answer.message}\n  decide: ${decision.message}`,
      );
    }
    // The same class on an ungoverned pod, or a governed pod in a real sandbox, is none of its business.
    for (const [namespace, pod] of [
      ['apps', podOf('ungoverned', {}, { runtimeClassName: 'fake-sandbox' })],
      ['apps', podOf('sandboxed', UNTRUSTED, { runtimeClassName: 'gvisor' })],
    ] as const) {
      const answer = await tryCreate(core, namespace, pod);
      assert.ok(answer.allowed, answer.message);
    }
  });

  it("6. a class's own scheduling: the RuntimeClass plugin merges it after the mutation, where the webhook adds it itself", async () => {
    const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
    const kata = await node.readRuntimeClass({ name: 'kata' });
    kata.scheduling = { nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } };
    kata.overhead = { podFixed: { memory: '160Mi', cpu: '250m' } };
    await node.replaceRuntimeClass({ name: 'kata', body: kata });
    const pod = podOf('kata-injected');
    // The webhook's decision, knowing the class's scheduling (the kata profile has no nodeSelector of its own).
    const decision = decide({
      operation: 'CREATE',
      namespace: 'team-a',
      pod: structuredClone(pod) as Pod,
      requester: ADMIN,
      namespaceFacts: { name: 'team-a', labels: {} },
      policy,
      runtimeClasses: new Map([['kata', { name: 'kata', handler: 'kata', nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } }]]),
    });
    const expected = touched(applyDecision(structuredClone(pod) as Pod, decision));
    // The plugin's informer has the updated class soon after.
    let answer: Awaited<ReturnType<typeof tryCreate>> | undefined;
    await waitFor(async () => {
      answer = await tryCreate(core, 'team-a', pod);
      return answer.stored?.spec?.overhead !== undefined;
    });
    assert.deepEqual(touched(answer!.stored!), expected);
    assert.deepEqual(plain(answer!.stored!.spec!.overhead), { cpu: '250m', memory: '160Mi' });
  });
});
