import { MIRROR_POD_ANNOTATION, type Pod, type Toleration } from '../k8s/pod.ts';
import { NON_SANDBOX_HANDLERS } from '../k8s/runtime-class.ts';
import { NAMESPACE_MODE_LABEL, NAMESPACE_RUNTIME_LABEL, RULE_ANNOTATION } from '../policy/defaults.ts';
import { MODE_STRENGTH, parseNamespaceMode } from '../policy/mode.ts';
import { isPlainObject } from '../util/shape.ts';
import type { Action, Mode, Profile } from '../policy/types.ts';
import { findUnsupportedFeatures } from './unsupported-features.ts';
import { pointer, type PatchOperation } from '../util/json-pointer.ts';
import { buildMatchSubject } from '../match/match-subject.ts';
import {
  formatDenial,
  formatMalformedPod,
  formatModeNotice,
  formatNamespaceLabelInvalid,
  formatNamespaceLabelRuleLabel,
  formatNoSandboxRuntime,
  formatRuleLabel,
  formatRuntimeClassMissing,
  formatRuntimeClassNotSandbox,
  formatRuntimeNotAllowed,
  formatSandboxedWarning,
  formatUnsupportedFeatures,
  formatViolationSummary,
  POD_AUDIENCE,
  pronounFor,
} from './messages.ts';
import { planNodeAffinity } from './node-affinity.ts';
import { planNodeSelector } from './node-selector.ts';
import { planTolerations } from './tolerations.ts';
import type { Decision, DecisionInput, DecisionSource, Violation } from './types.ts';

/** The rule that governs a pod, whether written in the policy or implied by namespace labels. */
interface GoverningRule {
  source: 'rule' | 'namespace-label';
  name: string;
  /** How messages refer to it, e.g. `rule "untrusted-apps"`. */
  label: string;
  action: Action;
  mode: Mode;
  profile: Profile | undefined;
  /** The runtimeClassNames that satisfy it. */
  allowedClasses: readonly string[];
  /** Problems with the rule itself (a namespace label naming no profile): reported as violations. */
  problems: Violation[];
}

/**
 * The whole admission decision for one pod: a pure function of its input. CREATE is the only operation that
 * mutates; the first matching policy rule wins, then namespace labels; a pod nothing governs is left alone.
 */
export function decide(input: DecisionInput): Decision {
  if (input.operation !== 'CREATE') return passThrough('not-applicable', `${input.operation} is admitted unchanged`);
  if (input.subResource) return passThrough('not-applicable', `subresource ${input.subResource} is admitted unchanged`);
  if (input.policy.exemptNamespaces.has(input.namespace)) {
    return passThrough('exempt-namespace', `namespace ${input.namespace} is exempt`);
  }
  if (isMirrorPodFromNode(input)) return passThrough('mirror-pod', 'mirror pods of static pods are not mutated');
  const rule = findGoverningRule(input);
  if (!rule) return passThrough('not-governed', 'no rule matches');
  // Without mutation a sandbox rule can only insist, exactly like require.
  return applyRule(input.mutate === false && rule.action === 'sandbox' ? { ...rule, action: 'require' } : rule, input);
}

/**
 * The first matching policy rule, unless the namespace's labels ask for something stricter: like PodSecurity
 * labels, the namespace label is a floor, so a rule keyed on what the pod's author controls (labels, service
 * account, images) can refine how a governed pod is sandboxed but never exempt it or soften the mode.
 */
function findGoverningRule(input: DecisionInput): GoverningRule | undefined {
  const subject = buildMatchSubject(input.namespace, input.namespaceFacts?.labels ?? {}, input.pod);
  const rule = input.policy.rules.find((r) => r.matches(subject));
  const fromRule: GoverningRule | undefined = rule
    ? {
        source: 'rule',
        name: rule.name,
        label: formatRuleLabel(rule.name),
        action: rule.action,
        mode: rule.mode,
        profile: rule.profile,
        allowedClasses: rule.allowedClasses,
        problems: [],
      }
    : undefined;
  const fromLabel = findNamespaceLabelRule(input);
  if (!fromLabel || (fromRule && strictness(fromRule) >= strictness(fromLabel))) return fromRule;
  return fromLabel;
}

function strictness(rule: GoverningRule): number {
  return rule.action === 'exempt' ? -1 : MODE_STRENGTH[rule.mode];
}

function findNamespaceLabelRule(input: DecisionInput): GoverningRule | undefined {
  if (!input.policy.namespaceLabels.enabled) return undefined;
  const labels = input.namespaceFacts?.labels ?? {};
  const wanted = labels[NAMESPACE_RUNTIME_LABEL];
  if (wanted === undefined) return undefined;
  const mode: Mode = parseNamespaceMode(labels[NAMESPACE_MODE_LABEL], input.policy.namespaceLabels.defaultMode);
  const profile = input.policy.profiles.get(wanted);
  const label = formatNamespaceLabelRuleLabel({ wanted, namespace: input.namespace });
  const problems: Violation[] = [];
  if (!profile) {
    problems.push({
      kind: 'namespace-label-invalid',
      message: formatNamespaceLabelInvalid({ namespace: input.namespace, wanted, known: [...input.policy.profiles.keys()].join(', ') }),
      paths: [],
    });
  }
  return {
    source: 'namespace-label',
    name: 'namespace-label',
    label,
    action: 'sandbox',
    mode,
    profile,
    allowedClasses: input.policy.allRuntimeClasses,
    problems,
  };
}

function applyRule(rule: GoverningRule, input: DecisionInput): Decision {
  if (rule.action === 'exempt') {
    return { ...base(rule, input.pod), reason: `exempted by ${rule.label}`, auditAnnotations: { decision: 'exempt', rule: rule.name } };
  }
  const pod = input.pod;
  if (!isPlainObject(pod.spec)) {
    // The API server always sends a spec; only a broken manifest lacks one, and nothing can be planned into it.
    return reportViolations(rule, input, [{ kind: 'malformed-pod', message: formatMalformedPod(), paths: ['spec'] }]);
  }
  const asked = runtimeClassOf(pod);
  const runtime = resolveRuntime(rule, input, asked);
  const profile = runtime.profile;
  const violations: Violation[] = [...rule.problems, ...runtime.violations];
  let ops: PatchOperation[] = [];
  if (profile) {
    violations.push(...checkProfile(rule, profile, input));
    if (rule.action === 'sandbox') {
      const plan = planSandbox(profile, input, asked);
      ops = plan.ops;
      violations.push(...plan.violations);
    }
  }
  if (violations.length > 0) return reportViolations(rule, input, violations);

  const decision: Decision = {
    ...base(rule, pod),
    runtimeClassName: profile?.runtimeClassName ?? asked,
    reason: asked === undefined ? `sandboxed by ${rule.label}` : `runtime ${asked} satisfies ${rule.label}`,
    auditAnnotations: { decision: rule.action === 'sandbox' && asked === undefined ? 'sandboxed' : 'allowed', rule: rule.name },
  };
  if (rule.action === 'sandbox' && profile) {
    decision.patch = [...planRuleAnnotation(pod, rule.name), ...ops];
    if (asked === undefined) {
      decision.warnings.push(
        formatSandboxedWarning(input.audience ?? POD_AUDIENCE, {
          displayName: profile.displayName,
          runtimeClassName: profile.runtimeClassName,
          governedBy: rule.label,
        }),
      );
    }
  }
  return decision;
}

/** The profile the pod runs in: the one its allowed class belongs to, or the one a sandbox rule injects. */
function resolveRuntime(
  rule: GoverningRule,
  input: DecisionInput,
  asked: string | undefined,
): { profile: Profile | undefined; violations: Violation[] } {
  const allowedClasses = rule.allowedClasses;
  if (asked !== undefined) {
    if (allowedClasses.includes(asked)) return { profile: input.policy.profilesByRuntimeClass.get(asked), violations: [] };
    return { profile: undefined, violations: [runtimeNotAllowed(rule, asked, allowedClasses)] };
  }
  if (rule.action === 'require') {
    const message = formatNoSandboxRuntime({ governedBy: rule.label, allowed: allowedClasses.join(', ') });
    return { profile: undefined, violations: [{ kind: 'no-sandbox-runtime', message, paths: ['spec.runtimeClassName'] }] };
  }
  return { profile: rule.profile, violations: [] };
}

/** What keeps the profile from hosting the pod: its RuntimeClass in the cluster, the features it cannot host. */
function checkProfile(rule: GoverningRule, profile: Profile, input: DecisionInput): Violation[] {
  const violations = checkRuntimeClass(profile, input);
  const features = findUnsupportedFeatures(input.pod, profile.unsupported);
  if (features.length > 0) {
    violations.push({
      kind: 'unsupported-feature',
      message: formatUnsupportedFeatures({
        displayName: profile.displayName,
        runtimeClassName: profile.runtimeClassName,
        paths: features.map((f) => f.path).join(', '),
        pronoun: pronounFor(features.length),
        governedBy: rule.label,
      }),
      paths: features.map((f) => f.path),
    });
  }
  return violations;
}

/** The operations that move the pod into the profile (class, nodeSelector, affinity, tolerations) and their conflicts. */
function planSandbox(
  profile: Profile,
  input: DecisionInput,
  asked: string | undefined,
): { ops: PatchOperation[]; violations: Violation[] } {
  const pod = input.pod;
  const ops: PatchOperation[] = [];
  const violations: Violation[] = [];
  if (asked === undefined) ops.push({ op: 'add', path: pointer('spec', 'runtimeClassName'), value: profile.runtimeClassName });
  const scheduling = schedulingFor(profile, input);
  for (const plan of [
    planNodeSelector(pod, scheduling.nodeSelector, profile.name),
    planNodeAffinity(pod, profile.nodeAffinity, profile.name),
  ]) {
    ops.push(...plan.ops);
    violations.push(...plan.conflicts.map((c): Violation => ({ kind: 'scheduling-conflict', message: c.message, paths: [c.path] })));
  }
  ops.push(...planTolerations(pod, scheduling.tolerations));
  return { ops, violations };
}

/** enforce rejects; warn and audit admit the pod exactly as asked and say what enforce would have done. */
function reportViolations(rule: GoverningRule, input: DecisionInput, violations: Violation[]): Decision {
  const summary = formatViolationSummary(violations);
  const decision: Decision = { ...base(rule, input.pod), runtimeClassName: runtimeClassOf(input.pod), violations };
  switch (rule.mode) {
    case 'enforce':
      return {
        ...decision,
        allowed: false,
        reason: `denied by ${rule.label}`,
        message: formatDenial(input.audience ?? POD_AUDIENCE, summary),
        auditAnnotations: { decision: 'denied', rule: rule.name },
      };
    case 'warn':
      return {
        ...decision,
        reason: `would be denied by ${rule.label} (warn mode)`,
        warnings: violations.map((v) => formatModeNotice('warn', v.message)),
        auditAnnotations: { decision: 'would-deny', rule: rule.name, violations: summary },
      };
    case 'audit':
      return {
        ...decision,
        reason: `would be denied by ${rule.label} (audit mode)`,
        auditAnnotations: { decision: 'would-deny', rule: rule.name, violations: summary },
      };
  }
}

function runtimeNotAllowed(rule: GoverningRule, asked: string, allowed: readonly string[]): Violation {
  return {
    kind: 'runtime-not-allowed',
    message: formatRuntimeNotAllowed({ asked, governedBy: rule.label, allowed: allowed.join(', '), mutates: rule.action === 'sandbox' }),
    paths: ['spec.runtimeClassName'],
  };
}

/** With cluster facts at hand, a profile is only a sandbox if its RuntimeClass exists and runs a sandbox handler. */
function checkRuntimeClass(profile: Profile, input: DecisionInput): Violation[] {
  if (!input.runtimeClasses) return [];
  const rc = input.runtimeClasses.get(profile.runtimeClassName);
  if (!rc) {
    return [
      {
        kind: 'runtime-class-missing',
        message: formatRuntimeClassMissing({
          runtimeClassName: profile.runtimeClassName,
          profile: profile.name,
          displayName: profile.displayName,
        }),
        paths: ['spec.runtimeClassName'],
      },
    ];
  }
  if (NON_SANDBOX_HANDLERS.has(rc.handler)) {
    return [
      {
        kind: 'runtime-class-not-sandbox',
        message: formatRuntimeClassNotSandbox({ runtimeClassName: rc.name, handler: rc.handler }),
        paths: ['spec.runtimeClassName'],
      },
    ];
  }
  return [];
}

/**
 * What a profile leaves out comes from its cluster RuntimeClass's `scheduling`: the profile's own nodeSelector
 * and tolerations win field by field. Applying the class's values here (the API server's RuntimeClass plugin
 * merges the same ones) lets a conflict be refused with our message instead of the plugin's.
 */
function schedulingFor(
  profile: Profile,
  input: DecisionInput,
): { nodeSelector: Readonly<Record<string, string>>; tolerations: readonly Toleration[] } {
  const rc = input.runtimeClasses?.get(profile.runtimeClassName);
  return {
    nodeSelector: profile.nodeSelector ?? rc?.nodeSelector ?? {},
    tolerations: profile.tolerations ?? rc?.tolerations ?? [],
  };
}

function planRuleAnnotation(pod: Pod, ruleName: string): PatchOperation[] {
  const metadata = pod.metadata;
  const annotations = isPlainObject(metadata) ? metadata.annotations : undefined;
  if (!isPlainObject(metadata)) {
    return [{ op: 'add', path: pointer('metadata'), value: { annotations: { [RULE_ANNOTATION]: ruleName } } }];
  }
  if (!isPlainObject(annotations)) {
    return [{ op: 'add', path: pointer('metadata', 'annotations'), value: { [RULE_ANNOTATION]: ruleName } }];
  }
  if (annotations[RULE_ANNOTATION] === ruleName) return [];
  const op = Object.hasOwn(annotations, RULE_ANNOTATION) ? 'replace' : 'add';
  return [{ op, path: pointer('metadata', 'annotations', RULE_ANNOTATION), value: ruleName }];
}

function base(rule: GoverningRule, pod: Pod): Decision {
  return {
    allowed: true,
    source: rule.source,
    rule: rule.name,
    action: rule.action,
    mode: rule.mode,
    runtimeClassName: runtimeClassOf(pod),
    patch: [],
    warnings: [],
    auditAnnotations: {},
    violations: [],
    reason: '',
  };
}

function passThrough(source: DecisionSource, reason: string): Decision {
  return {
    allowed: true,
    source,
    rule: undefined,
    action: 'none',
    mode: 'enforce',
    runtimeClassName: undefined,
    patch: [],
    warnings: [],
    auditAnnotations: {},
    violations: [],
    reason,
  };
}

export function runtimeClassOf(pod: Pod): string | undefined {
  const name = pod.spec?.runtimeClassName;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function isMirrorPodFromNode(input: DecisionInput): boolean {
  const annotations = input.pod.metadata?.annotations;
  if (!annotations || typeof annotations !== 'object' || !Object.hasOwn(annotations, MIRROR_POD_ANNOTATION)) return false;
  // The annotation alone proves nothing: anyone can write it. Only a kubelet creates real mirror pods.
  const requester = input.requester;
  return !!requester?.username?.startsWith('system:node:') && !!requester.groups?.includes('system:nodes');
}
