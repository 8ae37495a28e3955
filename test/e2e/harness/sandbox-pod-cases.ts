// The pods the native flavour (MutatingAdmissionPolicy + ValidatingAdmissionPolicies) is proven on: one policy
// with every kind of scheduling, the namespaces it is tried in, a table of cases by hand and a generator of
// real-world shapes. Shared by map.test.ts (the API server against decide()) and native-vs-webhook.test.ts (the
// API server under the generated policies against the API server under the webhook).
import type * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import type { Pod } from '../../../src/k8s/pod.ts';

export const WEBHOOK_NAMESPACE = 'sandbox-admission';
export const SEED = 20261201;
export const GENERATED = 2000;

// Profiles with every kind of scheduling: two affinity requirements, nodeSelector keys with "/", tolerations one
// of which an existing NoExecute one only covers when its time limit is long enough, and a kata profile whose
// second toleration the first already covers (never added). Rules: exempt, two sandbox rules (one warn), require.
export const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
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
    - name: third-party-images
      match: {images: {from: [docker.io/library, ghcr.io/untrusted/]}}
      action: sandbox
      runtime: gvisor
    - name: regulated
      match: {namespaceSelector: {matchLabels: {compliance: pci}}}
      action: require
`;

/** The RuntimeClasses of these cases, name and handler, without scheduling or overhead (the RuntimeClass plugin then adds nothing of its own); fake-sandbox runs runc. */
export const RUNTIME_CLASSES = [
  ['gvisor', 'runsc'],
  ['kata', 'kata'],
  ['runc', 'runc'],
  ['fake-sandbox', 'runc'],
] as const;

/** Who creates the pods: an admin, so RBAC and the namespace guard never stand in the way. */
export const ADMIN = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };

export const NAMESPACES: Record<string, Record<string, string>> = {
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

export interface Case {
  what: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Partial<k8s.V1PodSpec>;
  /** Only `metadata.generateName`: the API server names it. */
  generateNameOnly?: boolean;
}

/** The pod of a case, named `name` (or generated from it). */
export function podOfCase(c: Case, name: string): k8s.V1Pod {
  const pod: k8s.V1Pod = {
    metadata: c.generateNameOnly ? { generateName: `${name}-`, labels: c.labels ?? {} } : { name, labels: c.labels ?? {} },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...c.spec },
  };
  if (c.annotations) pod.metadata!.annotations = c.annotations;
  return pod;
}

export const UNTRUSTED = { app: 'untrusted' };
const GVISOR_TAINT = { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' };
const required = (...terms: k8s.V1NodeSelectorTerm[]): k8s.V1Affinity => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
});
const zone = { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] };

export const CASES: Case[] = [
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
// Docker Hub's short names (normalised to docker.io/library), digests, a port, and a registry whose name only
// starts like a governed one.
const IMAGES = [
  'registry.example/app:1',
  'registry.example/app:1',
  'nginx:1.27',
  `index.docker.io/library/busybox@sha256:${'a'.repeat(64)}`,
  'ghcr.io/untrusted/tool:v2',
  'ghcr.io/untrustedness/tool:v2',
  'localhost:5000/app',
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
export const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    namespace: fc.constantFrom(...Object.keys(NAMESPACES)),
    labels: fc.record(
      {
        app: fc.constantFrom('untrusted', 'web'),
        tier: fc.constantFrom('system', 'web'),
        'app.kubernetes.io/name': fc.constantFrom('untrusted', 'web'),
        'example.com/team.a_b-c': fc.constant('x'),
      },
      { requiredKeys: [] },
    ),
    generateNameOnly: fc.boolean(),
    spec: fc.record(
      {
        // Mostly pods that name no class and use nothing a profile refuses: the ones a mutation is for.
        runtimeClassName: fc.constantFrom(undefined, undefined, undefined, 'gvisor', 'kata', 'runc'),
        serviceAccountName: fc.constantFrom('default', 'builder-1'),
        containers: fc.constantFrom(...IMAGES.map((image) => [{ name: 'app', image }])),
        initContainers: fc.constantFrom(undefined, undefined, ...IMAGES.map((image) => [{ name: 'init', image }])),
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
export function touched(pod: k8s.V1Pod | Pod): unknown {
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

export function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, normalize(v)] as const)
      .filter(([, v]) => v !== undefined && v !== '');
    return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  return value;
}
