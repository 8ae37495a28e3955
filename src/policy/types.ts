import type { NodeSelectorRequirement, Toleration } from '../k8s/pod.ts';
import type { Matcher, MatchSpec } from '../match/types.ts';

export type Action = 'sandbox' | 'require' | 'exempt';
export type Mode = 'enforce' | 'warn' | 'audit';

/** Pod features a sandbox runtime may be unable to host; the values users write in `unsupported`. */
export const POD_FEATURES = [
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'privileged',
  'hostPath',
  'hostPort',
  'unmaskedProcMount',
  'userNamespace',
] as const;
export type PodFeature = (typeof POD_FEATURES)[number];

/** A runtime profile as written in the policy file. */
export interface ProfileSpec {
  runtimeClassName: string;
  displayName?: string;
  nodeAffinity?: NodeSelectorRequirement[];
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  unsupported?: PodFeature[];
}

export interface RuleSpec {
  name: string;
  match?: MatchSpec;
  action: Action;
  runtime?: string;
  allowedRuntimes?: string[];
  mode?: Mode;
}

export interface NamespaceLabelSpec {
  enabled?: boolean;
  defaultMode?: Mode;
  /** Who may remove or weaken the sandbox-admission.io/* labels of a namespace (default: system:masters). */
  allowedGroups?: string[];
  allowedUsers?: string[];
}

/** The policy document (`kind: SandboxPolicy`) after schema validation. */
export interface PolicyDocument {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
  spec: {
    exemptNamespaces?: string[];
    profiles?: Record<string, ProfileSpec>;
    namespaceLabels?: NamespaceLabelSpec;
    rules?: RuleSpec[];
  };
}

/** A profile ready for the decision: defaults filled in, name attached. */
export interface Profile {
  name: string;
  runtimeClassName: string;
  displayName: string;
  nodeAffinity: readonly NodeSelectorRequirement[];
  /** undefined: not set in the policy, so the cluster RuntimeClass's scheduling applies (when known). */
  nodeSelector: Readonly<Record<string, string>> | undefined;
  tolerations: readonly Toleration[] | undefined;
  unsupported: ReadonlySet<PodFeature>;
}

export interface CompiledRule {
  name: string;
  action: Action;
  mode: Mode;
  /** Profile a sandbox rule injects; undefined for require/exempt. */
  profile: Profile | undefined;
  /** Profiles whose runtime classes satisfy this rule, in policy order. */
  allowed: readonly Profile[];
  /** Their runtimeClassNames, computed once at load for the per-request checks and messages. */
  allowedClasses: readonly string[];
  matches: Matcher;
}

export interface Policy {
  name: string;
  exemptNamespaces: ReadonlySet<string>;
  profiles: ReadonlyMap<string, Profile>;
  /** Every profile's runtimeClassName, in policy order: what a namespace label accepts. */
  allRuntimeClasses: readonly string[];
  /** runtimeClassName -> profile, for pods that already ask for a class. */
  profilesByRuntimeClass: ReadonlyMap<string, Profile>;
  namespaceLabels: { enabled: boolean; defaultMode: Mode; allowedGroups: ReadonlySet<string>; allowedUsers: ReadonlySet<string> };
  rules: readonly CompiledRule[];
}
