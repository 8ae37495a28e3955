import type { Pod } from '../k8s/pod.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Action, Mode, Policy } from '../policy/types.ts';
import type { PatchOperation } from '../util/json-pointer.ts';
import type { Audience } from './messages.ts';

export interface NamespaceFacts {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface Requester {
  username?: string;
  uid?: string;
  groups?: readonly string[];
  /** Authenticator extras (scopes, credential ids): part of who the requester is for authorization. */
  extra?: Readonly<Record<string, readonly string[]>>;
}

/** Everything one decision depends on; nothing else is read. */
export interface DecisionInput {
  operation: string;
  subResource?: string;
  /** From the AdmissionRequest, never from the object: controller-made pods may carry no namespace. */
  namespace: string;
  pod: Pod;
  requester?: Requester;
  namespaceFacts: NamespaceFacts | undefined;
  policy: Policy;
  /**
   * false for the validating backstop: nothing is patched, so a sandbox rule only checks that the pod
   * ended up in an allowed sandbox (whatever the mutating webhooks did).
   */
  mutate?: boolean;
  /** Cluster RuntimeClasses by name; undefined when not known (local runs, CLI), then names are trusted. */
  runtimeClasses?: ReadonlyMap<string, RuntimeClassFacts>;
  /** Whom the messages speak of (default: the pod being created). */
  audience?: Audience;
}

/** Every kind of violation; the README's table of violation kinds lists exactly these. */
export const VIOLATION_KINDS = [
  'malformed-pod',
  'runtime-not-allowed',
  'no-sandbox-runtime',
  'unsupported-feature',
  'scheduling-conflict',
  'runtime-class-missing',
  'runtime-class-not-sandbox',
  'namespace-label-invalid',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** Why a governed pod cannot be admitted as asked. */
export interface Violation {
  kind: ViolationKind;
  message: string;
  /** Pod fields at fault, kubectl style. */
  paths: string[];
}

export type DecisionSource = 'rule' | 'namespace-label' | 'exempt-namespace' | 'mirror-pod' | 'not-governed' | 'not-applicable';

/** What every admission check returns, whatever the kind of object: enough to answer and to log. */
export interface Verdict {
  allowed: boolean;
  warnings: string[];
  auditAnnotations: Record<string, string>;
  /** Set when allowed is false: the message the user sees. */
  message?: string;
  /** A short human reason for the log line. */
  reason: string;
  rule: string | undefined;
  /** What the check did, for logs and metrics (sandbox, require, exempt, none, guard-namespace...). */
  action: string;
  mode: Mode;
}

export interface Decision extends Verdict {
  source: DecisionSource;
  /** Rule name, `namespace-label`, or undefined when no rule applied. */
  rule: string | undefined;
  action: Action | 'none';
  /** The runtimeClassName the pod ends up with (after the patch), if any. */
  runtimeClassName: string | undefined;
  patch: PatchOperation[];
  violations: Violation[];
}
