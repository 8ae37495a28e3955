/**
 * The policy as a MutatingAdmissionPolicy: the API server itself moves a governed pod into its sandbox (CEL,
 * JSONPatch, in-process), with no webhook on the path. A pure function of the policy document; `render map` prints
 * its result.
 *
 * What it reproduces is decide()'s patch for a pod CREATE, with no cluster facts (as the CLI decides): exempt
 * namespaces, mirror pods from their node, the first matching rule and the namespace-label floor (all shared with
 * the validating policies, pod-variables.ts); then, when the governing rule sandboxes and nothing stands in the way
 * (a class outside the allowed ones, a feature the profile cannot host, a nodeSelector or affinity conflict, an
 * unknown profile in a namespace label), the same operations as decide()'s planners, each guarded by "not already
 * there", so a second run adds nothing (reinvocationPolicy IfNeeded). A pod decide() would refuse or leave alone is
 * left alone here; the ValidatingAdmissionPolicies do the refusing. See README, "The MutatingAdmissionPolicy".
 */
import type { NodeSelectorRequirement, Toleration } from '../k8s/pod.ts';
import { planTolerations, toleratesAllOf } from '../decision/tolerations.ts';
import { compilePolicy } from '../policy/compile.ts';
import { RULE_ANNOTATION } from '../policy/defaults.ts';
import { POLICY_DIGEST_ANNOTATION, policyDigest } from '../policy/policy-digest.ts';
import type { Policy, PolicyDocument, Profile } from '../policy/types.ts';
import { pointer } from '../util/json-pointer.ts';
import { celAnd, celList, celOr, celString, celValue } from './cel.ts';
import {
  ADMISSION_API_VERSION,
  buildPodConstraints,
  factVariables,
  governingRuleVariables,
  type KubernetesObject,
  NOT_A_MIRROR_POD_FROM_ITS_NODE,
  targetProfileVariables,
  unsupportedVariables,
  v,
  type Variable,
} from './pod-variables.ts';

export interface RenderMapOptions {
  /** The webhook's namespace: always exempt, as in the webhook. */
  webhookNamespace: string;
}

const NAME = 'sandbox-admission-sandbox';
/** The labels on every generated object (not the validating ones': the drift check lists those). */
export const MAP_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'sandbox-admission',
  'app.kubernetes.io/component': 'mutating-admission-policy',
};
/** What the webhook knows and CEL does not; on the generated policy as an annotation, and in the README. */
export const MAP_LIMITS =
  'Mutates as decide() does without cluster facts. It does not look at RuntimeClasses: a missing class is refused by ' +
  "the API server's RuntimeClass plugin, a class whose handler is runc by the sandbox-admission-runtime-class-* " +
  "ValidatingAdmissionPolicies, and a class's own scheduling is merged by the RuntimeClass plugin (its message on a " +
  "conflict). It gives no warning to the pod's creator, and leaves a pod with a nodeSelector or affinity conflict " +
  'alone: refused by the ValidatingAdmissionPolicies if it names no class, admitted with its class but without the ' +
  "profile's scheduling if it names an allowed one (the webhook refuses both).";
const REQUIRED = 'requiredDuringSchedulingIgnoredDuringExecution';
const TERMS = `object.spec.affinity.nodeAffinity.${REQUIRED}.nodeSelectorTerms`;

/** The MutatingAdmissionPolicy and its binding. */
export function buildMutatingAdmissionPolicies(document: PolicyDocument, options: RenderMapOptions): KubernetesObject[] {
  // The same compile the webhook runs: profiles, allowed lists, defaults and exempt namespaces agree by construction.
  const policy = compilePolicy(document, options.webhookNamespace);
  const annotations = {
    'sandbox-admission.io/policy': policy.name,
    'sandbox-admission.io/generated-by': 'sandbox-admission render map',
  };
  const unsupported = unsupportedVariables(policy, v('targetClass'));
  const variables: Variable[] = [
    ...factVariables(document, policy.namespaceLabels.enabled),
    ...governingRuleVariables(document, policy),
    { name: 'runtimeClassName', expression: 'has(object.spec.runtimeClassName) ? object.spec.runtimeClassName : ""' },
    ...targetProfileVariables(policy),
    ...unsupported,
    { name: 'conflicts', expression: perProfile(policy, conflictExpression, 'false') },
    {
      name: 'sandbox',
      expression: celAnd([
        `${v('profile')} != ""`,
        ...(unsupported.length > 0 ? [`size(${v('unsupported')}) == 0`] : []),
        `!${v('conflicts')}`,
      ]),
    },
  ];
  return [
    {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'MutatingAdmissionPolicy',
      metadata: {
        name: NAME,
        labels: { ...MAP_LABELS },
        annotations: { ...annotations, [POLICY_DIGEST_ANNOTATION]: policyDigest(document), 'sandbox-admission.io/limits': MAP_LIMITS },
      },
      spec: {
        // An evaluation error refuses the pod: a governed pod never slips through unsandboxed.
        failurePolicy: 'Fail',
        // Every operation is guarded by "not already there": a second run adds nothing.
        reinvocationPolicy: 'IfNeeded',
        // CREATE only: decide() mutates nothing else (a pod UPDATE is only judged, by the validating policies).
        matchConstraints: buildPodConstraints(policy, ['CREATE']),
        matchConditions: [NOT_A_MIRROR_POD_FROM_ITS_NODE],
        variables,
        mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression: patchExpression(policy) } }],
      },
    },
    {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata: { name: NAME, labels: { ...MAP_LABELS }, annotations },
      spec: { policyName: NAME },
    },
  ];
}

/** `variables.profile == "p" ? <build(p)> :` for every profile where build gives something, then `otherwise`. */
function perProfile(policy: Policy, build: (profile: Profile) => string | undefined, otherwise: string): string {
  const lines: string[] = [];
  for (const profile of policy.profiles.values()) {
    const expression = build(profile);
    if (expression !== undefined) lines.push(`${v('profile')} == ${celString(profile.name)} ? ${expression} :`);
  }
  return [...lines, otherwise].join('\n');
}

/** The profile's scheduling, as decide.ts schedulingFor gives it without cluster facts. */
function schedulingOf(profile: Profile): { nodeSelector: Readonly<Record<string, string>>; tolerations: readonly Toleration[] } {
  return { nodeSelector: profile.nodeSelector ?? {}, tolerations: profile.tolerations ?? [] };
}

/**
 * node-selector.ts and node-affinity.ts conflicts: a nodeSelector key set otherwise, a nodeSelector entry or an
 * expression in a term that contradicts the profile's node affinity.
 */
function conflictExpression(profile: Profile): string | undefined {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(schedulingOf(profile).nodeSelector)) {
    terms.push(
      `has(object.spec.nodeSelector) && ${celString(key)} in object.spec.nodeSelector && object.spec.nodeSelector[${celString(key)}] != ${celString(value)}`,
    );
  }
  // node-affinity.ts findNodeSelectorContradictions: a nodeSelector entry is a required `key In [value]`.
  for (const req of profile.nodeAffinity) {
    const contradiction = celNodeSelectorContradicts(req);
    if (contradiction !== undefined) terms.push(contradiction);
  }
  if (profile.nodeAffinity.length > 0) {
    const contradictions = celOr(profile.nodeAffinity.map((req) => celContradicts('e', req)).filter((t) => t !== 'false'));
    if (contradictions !== 'false') {
      terms.push(`${hasRequiredTerms()} && ${TERMS}.exists(t, has(t.matchExpressions) && t.matchExpressions.exists(e, ${contradictions}))`);
    }
  }
  return terms.length === 0 ? undefined : celOr(terms);
}

function hasRequiredTerms(): string {
  return `has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && has(object.spec.affinity.nodeAffinity.${REQUIRED}) && has(${TERMS})`;
}

const valuesOf = (e: string): string => `(has(${e}.values) ? ${e}.values : [])`;

/** node-affinity.ts contradicts(existing, wanted) with `wanted` known: a CEL condition on the existing expression `e`. */
function celContradicts(e: string, wanted: NodeSelectorRequirement): string {
  const key = `${e}.key == ${celString(wanted.key)}`;
  const wv = celList(wanted.values ?? []);
  const ev = valuesOf(e);
  const op = (name: string) => `${e}.operator == ${celString(name)}`;
  switch (wanted.operator) {
    case 'In':
      return `${key} && (${op('In')} && !${ev}.exists(x, x in ${wv}) || ${op('NotIn')} && ${wv}.all(x, x in ${ev}) || ${op('DoesNotExist')})`;
    case 'NotIn':
      return `${key} && ${op('In')} && ${ev}.all(x, x in ${wv})`;
    case 'Exists':
      return `${key} && ${op('DoesNotExist')}`;
    case 'DoesNotExist':
      return `${key} && ${e}.operator in ["In", "Exists", "Gt", "Lt"]`;
    default:
      return 'false';
  }
}

/** node-affinity.ts contradicts({key, operator: In, values: [the pod's nodeSelector value]}, wanted), or nothing when it never does. */
function celNodeSelectorContradicts(wanted: NodeSelectorRequirement): string | undefined {
  const present = `has(object.spec.nodeSelector) && ${celString(wanted.key)} in object.spec.nodeSelector`;
  const value = `object.spec.nodeSelector[${celString(wanted.key)}]`;
  switch (wanted.operator) {
    case 'In':
      return `${present} && !(${value} in ${celList(wanted.values ?? [])})`;
    case 'NotIn':
      return `${present} && ${value} in ${celList(wanted.values ?? [])}`;
    case 'DoesNotExist':
      return present;
    default:
      return undefined;
  }
}

/** node-affinity.ts sameRequirement(e, wanted): same key and operator, the same set of values. */
function celSameRequirement(e: string, wanted: NodeSelectorRequirement): string {
  const wv = celList(wanted.values ?? []);
  return `${e}.key == ${celString(wanted.key)} && ${e}.operator == ${celString(wanted.operator)} && ${valuesOf(e)}.all(x, x in ${wv}) && ${wv}.all(x, x in ${valuesOf(e)})`;
}

/** tolerations.ts toleratesAllOf(e, wanted) with `wanted` known: a CEL condition on the existing toleration `e`. */
function celToleratesAllOf(e: string, wanted: Toleration): string {
  const key = `(has(${e}.key) ? ${e}.key : "")`;
  const op = `(has(${e}.operator) && ${e}.operator != "" ? ${e}.operator : "Equal")`;
  const effect = `(has(${e}.effect) ? ${e}.effect : "")`;
  const wantedOp = wanted.operator === undefined || wanted.operator === '' ? 'Equal' : wanted.operator;
  const limited = `${effect} == "NoExecute" && has(${e}.tolerationSeconds)`;
  return celAnd([
    `${key} == ${celString(wanted.key ?? '')} || ${key} == "" && ${op} == "Exists"`,
    `${effect} == "" || ${effect} == ${celString(wanted.effect ?? '')}`,
    wanted.tolerationSeconds === undefined || wanted.tolerationSeconds === null
      ? `!(${limited})`
      : `!(${limited}) || ${e}.tolerationSeconds >= ${wanted.tolerationSeconds}`,
    wantedOp === 'Equal'
      ? `${op} == "Exists" || ${op} == "Equal" && (has(${e}.value) ? ${e}.value : "") == ${celString(wanted.value ?? '')}`
      : `${op} == "Exists"`,
  ]);
}

const add = (path: string, value: string): string => `JSONPatch{op: "add", path: ${path}, value: ${value}}`;
/** An `add` of `value` at the object's field `tokens`, typed as that field (list indexes and `-` dropped from the type). */
const addAt = (tokens: Array<string | number>, value: unknown, typed = true): string =>
  add(celString(pointer(...tokens)), celValue(value, typed ? typeAt(tokens) : undefined));
const typeAt = (tokens: Array<string | number>): string =>
  ['Object', ...tokens.filter((t) => typeof t === 'string' && t !== '-')].join('.');

/** decide.ts applyRule's patch: the rule annotation, the class, then the profile's scheduling, in decide()'s order. */
function patchExpression(policy: Policy): string {
  const ruleName = policy.namespaceLabels.enabled ? `(${v('rule')} != "" ? ${v('rule')} : "namespace-label")` : v('rule');
  const key = celString(RULE_ANNOTATION);
  // decide.ts planRuleAnnotation (metadata is always there in a request): an `add` replaces a different value.
  const annotation = [
    `(!has(object.metadata.annotations) ? [${add(celString(pointer('metadata', 'annotations')), `{${key}: ${ruleName}}`)}] :`,
    `${key} in object.metadata.annotations && object.metadata.annotations[${key}] == ${ruleName} ? [] :`,
    `[${add(celString(pointer('metadata', 'annotations', RULE_ANNOTATION)), ruleName)}])`,
  ].join('\n');
  const runtimeClass = `(${v('runtimeClassName')} == "" ? [${add(celString(pointer('spec', 'runtimeClassName')), v('targetClass'))}] : [])`;
  const scheduling = perProfile(policy, schedulingPatch, '[]');
  return [`!${v('sandbox')} ? [] :`, `${annotation}`, `+ ${runtimeClass}`, `+ (${scheduling})`].join('\n');
}

/** planNodeSelector, planNodeAffinity and planTolerations for one profile, or nothing when it schedules nowhere special. */
function schedulingPatch(profile: Profile): string | undefined {
  const { nodeSelector, tolerations } = schedulingOf(profile);
  const parts = [nodeSelectorPatch(nodeSelector), nodeAffinityPatch(profile.nodeAffinity), tolerationsPatch(tolerations)].filter(
    (p): p is string => p !== undefined,
  );
  return parts.length === 0 ? undefined : parts.join('\n+ ');
}

/** node-selector.ts planNodeSelector (conflicts already ruled out): the map when there is none, else each missing key. */
function nodeSelectorPatch(wanted: Readonly<Record<string, string>>): string | undefined {
  const keys = Object.keys(wanted);
  if (keys.length === 0) return undefined;
  const each = keys.map((k) => `(${celString(k)} in object.spec.nodeSelector ? [] : [${addAt(['spec', 'nodeSelector', k], wanted[k])}])`);
  return `(!has(object.spec.nodeSelector) ? [${addAt(['spec', 'nodeSelector'], wanted, false)}] :\n  ${each.join(' + ')})`;
}

/**
 * node-affinity.ts planNodeAffinity (contradictions already ruled out): the first missing level gets a fresh term;
 * otherwise every term gets the requirements it lacks, by index (two equal terms are still two terms).
 */
function nodeAffinityPatch(wanted: readonly NodeSelectorRequirement[]): string | undefined {
  if (wanted.length === 0) return undefined;
  const fresh = { matchExpressions: wanted };
  const base = ['spec', 'affinity', 'nodeAffinity', REQUIRED, 'nodeSelectorTerms'];
  const termPath = (suffix: string) => `${celString(`${pointer(...base)}/`)} + string(i) + ${celString(suffix)}`;
  const requirement = typeAt([...base, 'matchExpressions']);
  const perTerm = wanted
    .map(
      (req) =>
        `(t.matchExpressions.exists(e, ${celSameRequirement('e', req)}) ? [] : [${add(termPath('/matchExpressions/-'), celValue(req, requirement))}])`,
    )
    .join('\n    + ');
  return [
    `(!has(object.spec.affinity) ? [${addAt(['spec', 'affinity'], { nodeAffinity: { [REQUIRED]: { nodeSelectorTerms: [fresh] } } })}] :`,
    `!has(object.spec.affinity.nodeAffinity) ? [${addAt(['spec', 'affinity', 'nodeAffinity'], { [REQUIRED]: { nodeSelectorTerms: [fresh] } })}] :`,
    `!has(object.spec.affinity.nodeAffinity.${REQUIRED}) ? [${addAt(['spec', 'affinity', 'nodeAffinity', REQUIRED], { nodeSelectorTerms: [fresh] })}] :`,
    `!has(${TERMS}) || size(${TERMS}) == 0 ? [${addAt(base, [fresh])}] :`,
    `${TERMS}.transformList(i, t, !has(t.matchExpressions) ? [${add(termPath('/matchExpressions'), celValue(wanted, requirement))}] :`,
    `    ${perTerm}`,
    ').flatten())',
  ].join('\n');
}

/**
 * tolerations.ts planTolerations: the list when there is none; else each wanted toleration that no existing one
 * and no wanted one added before it tolerates, appended in order.
 */
function tolerationsPatch(wanted: readonly Toleration[]): string | undefined {
  if (wanted.length === 0) return undefined;
  const fresh = planTolerations({ spec: {} } as Parameters<typeof planTolerations>[0], wanted)[0]?.value;
  const missing: string[] = [];
  for (const t of wanted) {
    const coveredByEarlier = missing.filter((_, i) => toleratesAllOf(wanted[i]!, t)).map((m) => `(${m})`);
    missing.push(celAnd([`!object.spec.tolerations.exists(e, ${celToleratesAllOf('e', t)})`, ...coveredByEarlier.map((m) => `!${m}`)]));
  }
  const each = wanted.map((t, j) => `(${missing[j]} ? [${addAt(['spec', 'tolerations', '-'], t)}] : [])`);
  return `(!has(object.spec.tolerations) ? [${addAt(['spec', 'tolerations'], fresh)}] :\n  ${each.join('\n  + ')})`;
}
