import type { Container, Pod, Toleration } from '../src/k8s/pod.ts';
import { podReview as buildPodReview } from '../test/helpers/reviews.ts';

/**
 * Inputs shared by the micro-benchmarks and the load test: pods shaped like the ones a cluster sends,
 * AdmissionReviews around them, and a generated 200-rule policy. Everything is built in memory.
 */

export const NAMESPACE = 'team-a';
/** A namespace governed only by its label (`--namespace-labels` on the served webhook). */
export const LABELLED_NAMESPACE = 'team-labelled';
export const LABELLED_NAMESPACE_LABELS: Readonly<Record<string, string>> = { 'sandbox-admission.io/runtime': 'kata' };

function pod(name: string, labels: Record<string, string>, spec: NonNullable<Pod['spec']>, annotations?: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels, ...(annotations ? { annotations } : {}) },
    spec,
  };
}

function container(i: number): Container {
  return {
    name: `c-${i}`,
    image: `registry.corp/team/app-${i}:1.${i}`,
    ports: [{ containerPort: 8000 + i }],
    securityContext: { capabilities: { drop: ['ALL'] } },
  };
}

/** No `app=untrusted`, in a namespace without labels: no rule governs it. */
export function ordinaryPod(): Pod {
  return pod('ordinary', { app: 'web' }, { containers: [{ name: 'web', image: 'nginx:1.27' }] });
}

/** The example policy's `untrusted-apps` rule moves it to gVisor. */
export function untrustedPod(): Pod {
  return pod('untrusted', { app: 'untrusted' }, { containers: [{ name: 'app', image: 'nginx:1.27' }] });
}

/** Three required node selector terms (each gets the gVisor expression) and five tolerations to compare against. */
export function schedulingPod(): Pod {
  const terms = ['zone-a', 'zone-b', 'zone-c'].map((zone) => ({
    matchExpressions: [
      { key: 'topology.kubernetes.io/zone', operator: 'In', values: [zone] },
      { key: 'node.kubernetes.io/instance-type', operator: 'NotIn', values: ['tiny'] },
    ],
  }));
  const tolerations: Toleration[] = [
    { key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' },
    { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'spot', operator: 'Equal', value: 'true', effect: 'PreferNoSchedule' },
  ];
  return pod(
    'scheduled',
    { app: 'untrusted' },
    {
      containers: [{ name: 'app', image: 'nginx:1.27' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
      tolerations,
    },
  );
}

/**
 * A governed pod whose review is about 3.5 KB, the size of a typical Deployment's pod: the scheduling pod's
 * affinity and tolerations, plus annotations (a sidecar injector's, a checksum) padded to `reviewBytes`.
 */
export function mediumPod(reviewBytes = 3584): Pod {
  const p = schedulingPod();
  p.metadata = { ...p.metadata, name: 'medium', annotations: { 'checksum/config': 'c'.repeat(64) } };
  const size = Buffer.byteLength(JSON.stringify(podReview(p, 'bench-medium')));
  if (size < reviewBytes) p.metadata.annotations = { ...p.metadata.annotations, 'bench/padding': 'p'.repeat(reviewBytes - size - 20) };
  return p;
}

/** 10 init + 40 regular containers, with ports and security contexts the compatibility check walks. */
export function fiftyContainerPod(): Pod {
  const all = Array.from({ length: 50 }, (_, i) => container(i));
  return pod('fifty', { app: 'untrusted' }, { initContainers: all.slice(0, 10), containers: all.slice(10) });
}

/** Governed, and using what gVisor cannot host: hostNetwork, a privileged container, a hostPath volume. */
export function deniedPod(): Pod {
  return pod(
    'denied',
    { app: 'untrusted' },
    {
      hostNetwork: true,
      containers: [{ name: 'app', image: 'nginx:1.27', securityContext: { privileged: true } }],
      volumes: [{ name: 'host', hostPath: { path: '/var/run' } }],
    },
  );
}

/** An ordinary-looking pod in the namespace that the runtime label governs. */
export function labelledNamespacePod(): Pod {
  const p = pod('labelled', { app: 'web' }, { containers: [{ name: 'web', image: 'nginx:1.27' }] });
  p.metadata = { ...p.metadata, namespace: LABELLED_NAMESPACE };
  return p;
}

/**
 * A governed pod of about `bytes` bytes of JSON: 20 containers with large environments, the way a pod
 * built from a big ConfigMap or a generated manifest looks. The API server allows objects up to ~1.5 MiB in etcd.
 */
export function largePod(bytes = 1024 * 1024): Pod {
  const containers = 20;
  const varsPerContainer = Math.ceil(bytes / containers / 110);
  const value = 'x'.repeat(64);
  const cs = Array.from({ length: containers }, (_, i) => ({
    ...container(i),
    env: Array.from({ length: varsPerContainer }, (_, j) => ({ name: `SETTING_${i}_${j}`, value })),
  }));
  const p = pod('large', { app: 'untrusted' }, { containers: cs });
  // Trim to the requested size with one annotation, so "1 MiB" means 1 MiB of pod JSON.
  const size = Buffer.byteLength(JSON.stringify(p));
  if (size < bytes) p.metadata = { ...p.metadata, annotations: { 'bench/padding': 'p'.repeat(bytes - size - 40) } };
  return p;
}

/** An AdmissionReview for a pod CREATE, as the ReplicaSet controller's request reaches the webhook. */
export function podReview(p: Pod, uid: string, namespace = p.metadata?.namespace ?? NAMESPACE): Record<string, unknown> {
  return buildPodReview(p, {
    uid,
    namespace,
    username: 'system:serviceaccount:kube-system:replicaset-controller',
    groups: ['system:serviceaccounts', 'system:authenticated'],
  });
}

/**
 * A 200-rule policy: 199 rules of every match kind (namespace globs, label selectors with expressions,
 * service accounts, namespace selectors, image registries) that match none of the benchmark pods, then the
 * example's `untrusted-apps` rule. A decision walks all of them: the worst case for rule matching.
 */
export function generatedPolicyYaml(ruleCount = 200): string {
  const rules: string[] = [];
  const actions = ['sandbox', 'require', 'exempt'] as const;
  for (let i = 0; i < ruleCount - 1; i++) {
    const action = actions[i % 3]!;
    const runtime = i % 2 === 0 ? 'gvisor' : 'kata';
    let match: string;
    switch (i % 5) {
      case 0:
        match = `namespaces: ["svc-${i}-*", "ci-${i}-?"]\n        excludeNamespaces: ["svc-${i}-infra"]`;
        break;
      case 1:
        match = `podSelector:\n          matchLabels: {app: "app-${i}"}\n          matchExpressions:\n            - {key: tier, operator: In, values: [frontend, backend]}\n            - {key: legacy, operator: DoesNotExist}`;
        break;
      case 2:
        match = `serviceAccounts: ["runner-${i}-*", "builder-${i}"]`;
        break;
      case 3:
        match = `namespaceSelector:\n          matchLabels: {owner: "group-${i}"}\n          matchExpressions:\n            - {key: env, operator: NotIn, values: [dev]}`;
        break;
      default:
        match = `images:\n          from: ["registry-${i}.example.com/", "*.mirror-${i}.example.net", "quay.io/org-${i}/"]`;
    }
    const tail = action === 'sandbox' ? `\n      runtime: ${runtime}` : action === 'require' ? `\n      allowedRuntimes: [${runtime}]` : '';
    const mode = ['enforce', 'warn', 'audit'][i % 3];
    rules.push(`    - name: rule-${i}\n      match:\n        ${match}\n      action: ${action}${tail}\n      mode: ${mode}`);
  }
  return `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata:
  name: generated-${ruleCount}
spec:
  namespaceLabels:
    enabled: true
  rules:
${rules.join('\n')}
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`;
}
