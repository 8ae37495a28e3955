/**
 * The parts of a Pod the decision reads. Every field is optional because the input is untrusted JSON
 * from an AdmissionReview or a user's manifest; the decision checks shapes before relying on them.
 */
export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface SecurityContext {
  privileged?: boolean;
  procMount?: string;
  capabilities?: { add?: string[]; drop?: string[] };
}

export interface ContainerPort {
  containerPort?: number;
  hostPort?: number;
  hostIP?: string;
}

export interface Container {
  name?: string;
  image?: string;
  ports?: ContainerPort[];
  securityContext?: SecurityContext;
}

export interface Volume {
  name?: string;
  hostPath?: { path?: string };
}

export interface PodSpec {
  runtimeClassName?: string;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
      preferredDuringSchedulingIgnoredDuringExecution?: unknown[];
    };
    podAffinity?: unknown;
    podAntiAffinity?: unknown;
  };
  tolerations?: Toleration[];
  serviceAccountName?: string;
  serviceAccount?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  hostUsers?: boolean;
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  overhead?: Record<string, string>;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

/** Annotation the kubelet puts on mirror pods of static pods. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export function podDisplayName(pod: Pod): string {
  const meta = pod.metadata ?? {};
  if (meta.name) return meta.name;
  if (meta.generateName) return `${meta.generateName}<generated>`;
  return '<unnamed>';
}
