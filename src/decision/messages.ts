/**
 * The decision's one vocabulary: every sentence a user reads about a pod, a workload template or a debug
 * container is worded here. decide(), the template and ephemeral-container checks and the admission-policy
 * generator all call these functions, so the webhook and the API server say the same thing.
 *
 * Parameters are already-formatted strings (lists joined, names quoted by the caller where shown), so the
 * generator can pass CEL expressions in their place (admission-policies/cel.ts celMessage).
 */
import { NAMESPACE_RUNTIME_LABEL } from '../policy/defaults.ts';

/** Whom a message speaks of: the pod being created, the pods of a workload's template, a debug container. */
export type Audience = { kind: 'pod' } | { kind: 'pod-template'; ref: string } | { kind: 'ephemeral-container' };

export const POD_AUDIENCE: Audience = { kind: 'pod' };

/** The message of a denial in enforce mode, `summary` being the violations joined by violationSummary. */
export function formatDenial(audience: Audience, summary: string): string {
  switch (audience.kind) {
    case 'pod':
      return `sandbox-admission denied this pod: ${summary}`;
    case 'pod-template':
      return `sandbox-admission: the pods of ${audience.ref} would be rejected: ${summary}`;
    case 'ephemeral-container':
      return `sandbox-admission denied this ephemeral container: with it the pod ${summary}`;
  }
}

/** warn and audit mode: what enforce would have rejected, the object admitted as asked. */
export function formatModeNotice(mode: 'warn' | 'audit', message: string): string {
  return `sandbox-admission (${mode} mode, admitted unchanged): ${message}`;
}

export function formatViolationSummary(violations: ReadonlyArray<{ message: string }>): string {
  return violations.map((v) => v.message).join('; ');
}

/** The warning that tells whoever created the pod where it runs now. */
export function formatSandboxedWarning(
  audience: Audience,
  p: { displayName: string; runtimeClassName: string; governedBy: string },
): string {
  const who = audience.kind === 'pod-template' ? `pods of ${audience.ref} will run in` : 'this pod runs in';
  return `sandbox-admission: ${who} ${p.displayName} (runtimeClassName ${p.runtimeClassName}) by ${p.governedBy}`;
}

/** How messages name the rule that governs a pod. */
export function formatRuleLabel(rule: string): string {
  return `rule "${rule}"`;
}

export function formatNamespaceLabelRuleLabel(p: { wanted: string; namespace: string }): string {
  return `label ${NAMESPACE_RUNTIME_LABEL}=${p.wanted} on namespace "${p.namespace}"`;
}

// One function per violation kind (decision/types.ts VIOLATION_KINDS).

export function formatMalformedPod(): string {
  return 'the pod has no spec object, so it cannot be checked or sandboxed';
}

export function formatNoSandboxRuntime(p: { governedBy: string; allowed: string }): string {
  return `${p.governedBy} requires a sandbox runtime and the pod names none; set spec.runtimeClassName to one of: ${p.allowed}`;
}

/** `mutates`: a sandbox rule that may still choose the runtime itself, so removing the class is a fix too. */
export function formatRuntimeNotAllowed(p: { asked: string; governedBy: string; allowed: string; mutates: boolean }): string {
  const fix = p.mutates
    ? `remove spec.runtimeClassName so sandbox-admission chooses, or set it to one of: ${p.allowed}`
    : `set spec.runtimeClassName to one of: ${p.allowed}`;
  return `the pod asks for runtimeClassName "${p.asked}" but ${p.governedBy} requires a sandbox runtime (allowed: ${p.allowed}); ${fix}`;
}

export function formatUnsupportedFeatures(p: {
  displayName: string;
  runtimeClassName: string;
  paths: string;
  pronoun: string;
  governedBy: string;
}): string {
  return `${p.displayName} (runtimeClassName "${p.runtimeClassName}") cannot host ${p.paths}; remove ${p.pronoun} or ask for an exemption from ${p.governedBy}`;
}

export function pronounFor(count: number): string {
  return count === 1 ? 'it' : 'them';
}

export function formatNamespaceLabelInvalid(p: { namespace: string; wanted: string; known: string }): string {
  return `namespace "${p.namespace}" asks for runtime profile "${p.wanted}", which the policy does not define (known: ${p.known}); fix the ${NAMESPACE_RUNTIME_LABEL} label`;
}

export function formatRuntimeClassMissing(p: { runtimeClassName: string; profile: string; displayName: string }): string {
  return `RuntimeClass "${p.runtimeClassName}" (runtime profile "${p.profile}") does not exist in this cluster; a cluster admin must create it before pods can use ${p.displayName}`;
}

export function formatRuntimeClassNotSandbox(p: { runtimeClassName: string; handler: string }): string {
  return `RuntimeClass "${p.runtimeClassName}" uses handler "${p.handler}", which runs containers on the host kernel and is not a sandbox; a cluster admin must point it at runsc or kata`;
}

/** A RuntimeClass a profile names, created (or changed) with a host-kernel handler: refused by the generated policy. */
export function formatRuntimeClassChangeRefused(p: { runtimeClassName: string; profile: string; handler: string }): string {
  return `sandbox-admission denied this RuntimeClass: "${p.runtimeClassName}" is the runtimeClassName of runtime profile "${p.profile}", and handler "${p.handler}" runs containers on the host kernel, not in a sandbox; use a sandbox handler (runsc, kata), or change the policy first`;
}

/** A debug container asking for what the pod's sandbox cannot host. */
export function formatEphemeralUnsupported(p: { displayName: string; runtimeClassName: string; containers: string }): string {
  return `sandbox-admission denied this ephemeral container: the pod runs in ${p.displayName} (runtimeClassName "${p.runtimeClassName}"), which cannot host ${p.containers}; debug without those settings`;
}
