import type { ProfileSpec } from './types.ts';

/** Namespaces that are never governed, so the control plane and the webhook itself can always start. */
export const DEFAULT_EXEMPT_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

/** Namespace labels in the PodSecurity style: a security team governs a namespace without editing rules. */
export const NAMESPACE_RUNTIME_LABEL = 'sandbox-admission.io/runtime';
export const NAMESPACE_MODE_LABEL = 'sandbox-admission.io/mode';

/** Who may weaken a namespace's sandbox-admission.io/* labels when the policy names nobody: cluster admins. */
export const DEFAULT_LABEL_ADMIN_GROUPS: readonly string[] = ['system:masters'];

/** Annotation recording which rule decided a pod's runtime. */
export const RULE_ANNOTATION = 'sandbox-admission.io/rule';

const HOST_FEATURES = ['hostNetwork', 'hostPID', 'hostIPC', 'privileged', 'hostPath', 'unmaskedProcMount'] as const;

/**
 * Profiles shipped with the product. A policy that defines a profile of the same name replaces it whole,
 * so what a profile does can always be read from one place.
 */
export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSpec>> = {
  // The GKE Sandbox shape: sandbox nodes carry the label and the taint sandbox.gke.io/runtime=gvisor.
  gvisor: {
    runtimeClassName: 'gvisor',
    displayName: 'gVisor',
    nodeAffinity: [{ key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] }],
    tolerations: [{ key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' }],
    unsupported: [...HOST_FEATURES],
  },
  // kata-deploy puts scheduling (nodeSelector katacontainers.io/kata-runtime) on the RuntimeClass itself,
  // and the API server's RuntimeClass plugin merges it, so the profile adds none of its own.
  kata: {
    runtimeClassName: 'kata',
    displayName: 'Kata Containers',
    unsupported: [...HOST_FEATURES],
  },
};
