/**
 * The policy as ValidatingAdmissionPolicies: the API server itself refuses a governed pod that does not name an
 * allowed sandbox runtimeClass, with the decision's own message, even when the webhook is down and its
 * configuration fails open. A pure function of the policy document; `render vap` prints its result.
 *
 * What it reproduces is decide() for a pod CREATE without mutation (the validating view), and for a pod UPDATE
 * that changes images or labels (pod-update.ts judgePodUpdate): exempt namespaces,
 * mirror pods from their node, the first matching rule, then namespace labels; the runtime check; the profile's
 * unsupported features; an unknown profile in a namespace label. See README, "The ValidatingAdmissionPolicy".
 */
import { NON_SANDBOX_HANDLERS } from '../k8s/runtime-class.ts';
import { compilePolicy } from '../policy/compile.ts';
import { NAMESPACE_RUNTIME_LABEL } from '../policy/defaults.ts';
import { POLICY_DIGEST_ANNOTATION, policyDigest } from '../policy/policy-digest.ts';
import type { Mode, Policy, PolicyDocument, Profile } from '../policy/types.ts';
import {
  formatDenial,
  formatModeNotice,
  formatNamespaceLabelInvalid,
  formatNamespaceLabelRuleLabel,
  formatNoSandboxRuntime,
  formatRuleLabel,
  formatRuntimeClassChangeRefused,
  formatRuntimeClassNotSandbox,
  formatRuntimeNotAllowed,
  formatUnsupportedFeatures,
  POD_AUDIENCE,
} from '../decision/messages.ts';
import { celList, celMessage, celOr, celString } from './cel.ts';
import {
  ADMISSION_API_VERSION as API_VERSION,
  buildPodConstraints,
  factVariables,
  governingRuleVariables,
  type KubernetesObject,
  MODES,
  NOT_A_MIRROR_POD_FROM_ITS_NODE,
  POD_CHANGES_GOVERNANCE,
  targetProfileVariables,
  unsupportedVariables,
  v,
  type Variable,
} from './pod-variables.ts';

export interface RenderVapOptions {
  /** The webhook's namespace: always exempt, as in the webhook. */
  webhookNamespace: string;
  /**
   * The generated MutatingAdmissionPolicy runs before these (the native flavour): a pod they see without a class
   * under a sandbox rule is one the mutation declined, so they refuse it with decide()'s own reason (what the
   * profile cannot host), and "remove spec.runtimeClassName" is a fix again. Without it they stand in for a
   * webhook that may be down, and every rule insists like require.
   */
  afterMutation?: boolean;
}

export type { KubernetesObject } from './pod-variables.ts';
export { formatVapJson, formatVapYaml } from './pod-variables.ts';

const NAME_PREFIX = 'sandbox-admission';
/** What a binding does with a failed validation, per mode: the decision's warn mode also leaves audit annotations. */
const VALIDATION_ACTIONS: Readonly<Record<Mode, readonly string[]>> = { enforce: ['Deny'], warn: ['Warn', 'Audit'], audit: ['Audit'] };
/** How the decision words a violation in each mode (decide.ts reportViolations): the sentence before the violations. */
const MESSAGE_PREFIX: Readonly<Record<Mode, string>> = {
  enforce: formatDenial(POD_AUDIENCE, ''),
  warn: formatModeNotice('warn', ''),
  audit: formatModeNotice('audit', ''),
};
/** The labels on every generated object; the webhook finds the policies in the cluster by them. */
export const VAP_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': NAME_PREFIX,
  'app.kubernetes.io/component': 'validating-admission-policy',
};

/**
 * Every ValidatingAdmissionPolicy and its binding: one pair per mode the policy can produce, per mode one pair
 * that checks the pod's RuntimeClass (its handler) with the RuntimeClasses as params, and one that refuses making
 * a profile's RuntimeClass a host-kernel one (runtimeClassObjectPolicy).
 */
export function buildValidatingAdmissionPolicies(document: PolicyDocument, options: RenderVapOptions): KubernetesObject[] {
  // The same compile the webhook runs: profile order, allowed lists, defaults and exempt namespaces agree by construction.
  const policy = compilePolicy(document, options.webhookNamespace);
  const variables = buildVariables(document, policy, options.afterMutation === true);
  const runtimeClassVariables = [
    ...factVariables(document, policy.namespaceLabels.enabled),
    ...governingRuleVariables(document, policy),
    allowedVariable(policy),
    RUNTIME_CLASS_NAME,
  ];
  const digest = policyDigest(document);
  const modes = reachableModes(policy);
  const objects: KubernetesObject[] = [];
  // The pod policies see pod CREATE and the UPDATEs that can make a pod governed (pod-update.ts; issue 10), as
  // /validate does; the MutatingAdmissionPolicy stays CREATE-only, as decide() mutates only a CREATE.
  const podMatch = {
    matchConstraints: buildPodConstraints(policy, ['CREATE', 'UPDATE']),
    matchConditions: [NOT_A_MIRROR_POD_FROM_ITS_NODE, POD_CHANGES_GOVERNANCE],
  };
  const pair = (
    name: string,
    mode: Mode,
    spec: Record<string, unknown>,
    params?: { paramKind: Record<string, string>; paramRef: Record<string, unknown> },
  ): void => {
    const paramKind = params?.paramKind;
    const common = {
      labels: { ...VAP_LABELS },
      annotations: {
        'sandbox-admission.io/policy': policy.name,
        'sandbox-admission.io/mode': mode,
        'sandbox-admission.io/generated-by': 'sandbox-admission render vap',
      },
    };
    const policyAnnotations = { ...common.annotations, [POLICY_DIGEST_ANNOTATION]: digest };
    objects.push({
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels: common.labels, annotations: policyAnnotations },
      spec: {
        // An evaluation error is a refusal in this mode's terms (Deny, or only a warning/audit entry for warn/audit).
        failurePolicy: 'Fail',
        ...(paramKind ? { paramKind } : {}),
        ...spec,
      },
    });
    objects.push({
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, ...common },
      spec: { policyName: name, ...(params ? { paramRef: params.paramRef } : {}), validationActions: [...VALIDATION_ACTIONS[mode]] },
    });
  };
  for (const mode of modes) {
    pair(`${NAME_PREFIX}-${mode}`, mode, {
      ...podMatch,
      variables,
      validations: [
        {
          expression: `${v('mode')} != ${celString(mode)} || size(${v('violations')}) == 0`,
          messageExpression: `${celString(MESSAGE_PREFIX[mode])} + ${v('violations')}.join("; ")`,
          reason: 'Forbidden',
        },
      ],
    });
  }
  // decide.ts checkRuntimeClass, for the handler: evaluated once per RuntimeClass in the cluster (params), each
  // refusing a governed pod whose allowed class is that one and runs on the host kernel, in every mode (a class
  // that already was so: created before the policy, or the policy changed). No RuntimeClass at all: nothing to
  // check (parameterNotFoundAction: Allow; the RuntimeClass admission plugin refuses a pod naming a missing class).
  for (const mode of modes) {
    const rc = v('runtimeClassName');
    pair(
      `${NAME_PREFIX}-runtime-class-${mode}`,
      mode,
      {
        ...podMatch,
        variables: runtimeClassVariables,
        validations: [
          {
            expression: `${v('mode')} != ${celString(mode)} || !(${rc} in ${v('allowed')}) || params.metadata.name != ${rc} || !(params.handler in ${HOST_KERNEL})`,
            messageExpression: `${celString(MESSAGE_PREFIX[mode])} + ${celMessage(formatRuntimeClassNotSandbox, { runtimeClassName: 'params.metadata.name', handler: 'params.handler' })}`,
            reason: 'Forbidden',
          },
        ],
      },
      { paramKind: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' }, paramRef: { selector: {}, parameterNotFoundAction: 'Allow' } },
    );
  }
  // The class itself (issue 10, item 4: a sandbox class turned into runc while the webhook is down).
  pair(`${NAME_PREFIX}-runtime-classes`, 'enforce', runtimeClassObjectPolicy(policy));
  return objects;
}

const HOST_KERNEL = celList([...NON_SANDBOX_HANDLERS]);
/** The handler a RuntimeClass being created names ("" when it is missing: the API server refuses that one itself). */
const handlerOf = (object: string): string => `(has(${object}.handler) ? ${object}.handler : "")`;

/**
 * `sandbox-admission-runtime-classes` refuses creating or updating a RuntimeClass that a profile names with a
 * host-kernel handler (runtime-class.ts NON_SANDBOX_HANDLERS). The handler is immutable, so "changing" one is
 * deleting and re-creating it, which this catches; a class that already was so is the pod checks' (above).
 */
function runtimeClassObjectPolicy(policy: Policy): Record<string, unknown> {
  const profileOf: Record<string, string> = {};
  for (const profile of policy.profiles.values()) profileOf[profile.runtimeClassName] ??= profile.name;
  const profileMap = `{${Object.entries(profileOf)
    .map(([rc, profile]) => `${celString(rc)}: ${celString(profile)}`)
    .join(', ')}}`;
  return {
    matchConstraints: {
      resourceRules: [
        {
          apiGroups: ['node.k8s.io'],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['runtimeclasses'],
          scope: 'Cluster',
        },
      ],
      matchPolicy: 'Equivalent',
    },
    validations: [
      {
        expression: `!(object.metadata.name in ${celList(Object.keys(profileOf))}) || !(${handlerOf('object')} in ${HOST_KERNEL})`,
        messageExpression: celMessage(formatRuntimeClassChangeRefused, {
          runtimeClassName: 'object.metadata.name',
          profile: `${profileMap}[object.metadata.name]`,
          handler: handlerOf('object'),
        }),
        reason: 'Forbidden',
      },
    ],
  };
}

const RUNTIME_CLASS_NAME: Variable = {
  name: 'runtimeClassName',
  expression: 'has(object.spec.runtimeClassName) ? object.spec.runtimeClassName : ""',
};

/** Enforce always; warn and audit when a rule uses them or a namespace label can ask for them. */
function reachableModes(policy: Policy): Mode[] {
  const used = new Set<Mode>(['enforce']);
  for (const rule of policy.rules) if (rule.action !== 'exempt') used.add(rule.mode);
  if (policy.namespaceLabels.enabled) for (const m of MODES) used.add(m);
  return MODES.filter((m) => used.has(m));
}

function buildVariables(document: PolicyDocument, policy: Policy, afterMutation: boolean): Variable[] {
  const labelsEnabled = policy.namespaceLabels.enabled;
  const unsupported = unsupportedVariables(policy);
  const mutation = afterMutation
    ? [
        ...targetProfileVariables(policy),
        ...unsupportedVariables(policy, v('targetClass'), 'unsupportedInTarget'),
        { name: 'mutates', expression: mutatesExpression(policy, labelsEnabled) },
      ]
    : [];
  return [
    ...factVariables(document, labelsEnabled),
    ...governingRuleVariables(document, policy),
    governedByVariable(labelsEnabled),
    allowedVariable(policy),
    RUNTIME_CLASS_NAME,
    ...unsupported,
    ...mutation,
    { name: 'violations', expression: violationsExpression(policy, labelsEnabled, unsupported.length > 0, afterMutation) },
  ];
}

/**
 * decide.ts runtimeNotAllowed `mutates`: a CREATE (the only operation decide() mutates) governed by a sandbox rule
 * or by the namespace label (rule "").
 */
function mutatesExpression(policy: Policy, labelsEnabled: boolean): string {
  const names = policy.rules.filter((r) => r.action === 'sandbox').map((r) => r.name);
  const sandboxing = [...(labelsEnabled ? [`${v('rule')} == ""`] : []), ...(names.length > 0 ? [`${v('rule')} in ${celList(names)}`] : [])];
  return sandboxing.length === 0 ? 'false' : `request.operation == "CREATE" && (${celOr(sandboxing)})`;
}

/** How messages name the governing rule (decide.ts GoverningRule.label). */
function governedByVariable(labelsEnabled: boolean): Variable {
  const ruleLabel = celMessage(({ rule }) => formatRuleLabel(rule), { rule: v('rule') });
  const labelRuleLabel = celMessage(formatNamespaceLabelRuleLabel, {
    wanted: `${v('namespaceLabels')}[${celString(NAMESPACE_RUNTIME_LABEL)}]`,
    namespace: 'request.namespace',
  });
  return { name: 'governedBy', expression: labelsEnabled ? `${v('rule')} != "" ? ${ruleLabel} : ${labelRuleLabel}` : ruleLabel };
}

/** The runtime classes that satisfy the governing rule: allowedRuntimes, or every profile. */
function allowedVariable(policy: Policy): Variable {
  const allClasses = [...policy.profiles.values()].map((p) => p.runtimeClassName);
  const byAllowed = new Map<string, string[]>();
  for (const rule of policy.rules) {
    if (rule.action === 'exempt') continue;
    const classes = rule.allowed.map((p) => p.runtimeClassName);
    if (sameList(classes, allClasses)) continue;
    const key = celList(classes);
    byAllowed.set(key, [...(byAllowed.get(key) ?? []), rule.name]);
  }
  return {
    name: 'allowed',
    expression: [...[...byAllowed].map(([list, names]) => `${v('rule')} in ${celList(names)} ? ${list} :`), celList(allClasses)].join('\n'),
  };
}

/** decide.ts applyRule with mutate: false, as a list of messages in the decision's order. */
function violationsExpression(policy: Policy, labelsEnabled: boolean, hasFeatureChecks: boolean, afterMutation: boolean): string {
  const rc = v('runtimeClassName');
  const allowed = `${v('allowed')}.join(", ")`;
  const by = v('governedBy');
  const parts: string[] = [];
  if (labelsEnabled) {
    const wanted = `${v('namespaceLabels')}[${celString(NAMESPACE_RUNTIME_LABEL)}]`;
    const known = [...policy.profiles.keys()];
    const invalid = celMessage(
      ({ namespace, wanted: asked }) => formatNamespaceLabelInvalid({ namespace, wanted: asked, known: known.join(', ') }),
      {
        namespace: 'request.namespace',
        wanted,
      },
    );
    parts.push(`(${v('rule')} == "" && !(${wanted} in ${celList(known)}) ? [${invalid}] : [])`);
  }
  const displayNames = `{${[...policy.profiles.values()].map((p: Profile) => `${celString(p.runtimeClassName)}: ${celString(p.displayName)}`).join(', ')}}`;
  // Without mutation every rule insists like require (decide.ts decide), so the fix never says "remove".
  const notAllowedBy = (mutates: boolean): string =>
    celMessage(({ asked, governedBy, allowed: list }) => formatRuntimeNotAllowed({ asked, governedBy, allowed: list, mutates }), {
      asked: rc,
      governedBy: by,
      allowed,
    });
  const notAllowed = afterMutation ? `(${v('mutates')} ? ${notAllowedBy(true)} : ${notAllowedBy(false)})` : notAllowedBy(false);
  let noClass = `[${celMessage(formatNoSandboxRuntime, { governedBy: by, allowed })}]`;
  if (afterMutation) {
    // The mutation declined the pod. decide()'s reason: what the profile cannot host, nothing more for a label
    // naming an unknown profile (its own violation says it); declined for a scheduling conflict, the generic one
    // (README, "The MutatingAdmissionPolicy").
    let declined = noClass;
    if (hasFeatureChecks) {
      const list = v('unsupportedInTarget');
      const cannotHost = celMessage(formatUnsupportedFeatures, {
        displayName: `${displayNames}[${v('targetClass')}]`,
        runtimeClassName: v('targetClass'),
        paths: `${list}.join(", ")`,
        pronoun: `(size(${list}) == 1 ? "it" : "them")`,
        governedBy: by,
      });
      declined = `(size(${list}) > 0 ? [${cannotHost}] : ${noClass})`;
    }
    noClass = `(!${v('mutates')} ? ${noClass} : ${v('targetClass')} == "" ? [] : ${declined})`;
  }
  const runtime = [`(${rc} == "" ? ${noClass} :`, `!(${rc} in ${v('allowed')}) ? [${notAllowed}] :`];
  if (hasFeatureChecks) {
    const list = v('unsupported');
    runtime.push(
      `size(${list}) == 0 ? [] :`,
      `[${celMessage(formatUnsupportedFeatures, { displayName: `${displayNames}[${rc}]`, runtimeClassName: rc, paths: `${list}.join(", ")`, pronoun: `(size(${list}) == 1 ? "it" : "them")`, governedBy: by })}])`,
    );
  } else {
    runtime.push('[])');
  }
  parts.push(runtime.join('\n'));
  return parts.join('\n+ ');
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
