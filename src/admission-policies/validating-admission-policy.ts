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
import { stringify } from 'yaml';
import { DOCKER_HUB_ALIASES } from '../match/image-ref.ts';
import { POD_UPDATE_CHANGES_GOVERNANCE_CEL } from '../decision/pod-update.ts';
import { MIRROR_POD_ANNOTATION } from '../k8s/pod.ts';
import { NON_SANDBOX_HANDLERS } from '../k8s/runtime-class.ts';
import { compilePolicy } from '../policy/compile.ts';
import { NAMESPACE_MODE_LABEL, NAMESPACE_RUNTIME_LABEL } from '../policy/defaults.ts';
import { POLICY_DIGEST_ANNOTATION, policyDigest } from '../policy/policy-digest.ts';
import type { MatchSpec } from '../match/types.ts';
import type { Mode, PodFeature, Policy, PolicyDocument, Profile } from '../policy/types.ts';
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
import { celAnd, celGlobList, celLabelSelector, celList, celImagePatterns, celMessage, celString } from './cel.ts';

export interface RenderVapOptions {
  /** The webhook's namespace: always exempt, as in the webhook. */
  webhookNamespace: string;
}

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

const API_VERSION = 'admissionregistration.k8s.io/v1';
const NAME_PREFIX = 'sandbox-admission';
const MODES: readonly Mode[] = ['enforce', 'warn', 'audit'];
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
/** The only namespace names that can exist (DNS-1123 labels); anything else in exemptNamespaces matches nothing. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const v = (name: string): string => `variables.${name}`;

/**
 * Every ValidatingAdmissionPolicy and its binding: one pair per mode the policy can produce, then the two that
 * keep the profiles' RuntimeClasses sandboxes without the webhook (runtimeClassPolicies).
 */
export function buildValidatingAdmissionPolicies(document: PolicyDocument, options: RenderVapOptions): KubernetesObject[] {
  // The same compile the webhook runs: profile order, allowed lists, defaults and exempt namespaces agree by construction.
  const policy = compilePolicy(document, options.webhookNamespace);
  const variables = buildVariables(document, policy);
  const digest = policyDigest(document);
  const objects: KubernetesObject[] = [];
  const metadataFor = (name: string, mode: Mode) => {
    const common = {
      labels: { ...VAP_LABELS },
      annotations: {
        'sandbox-admission.io/policy': policy.name,
        'sandbox-admission.io/mode': mode,
        'sandbox-admission.io/generated-by': 'sandbox-admission render vap',
      },
    };
    return {
      binding: { name, ...common },
      policy: { name, labels: common.labels, annotations: { ...common.annotations, [POLICY_DIGEST_ANNOTATION]: digest } },
    };
  };
  for (const mode of reachableModes(policy)) {
    const name = `${NAME_PREFIX}-${mode}`;
    const metadata = metadataFor(name, mode);
    objects.push({
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: metadata.policy,
      spec: {
        // An evaluation error is a refusal in this mode's terms (Deny, or only a warning/audit entry for warn/audit).
        failurePolicy: 'Fail',
        matchConstraints: podMatchConstraints(policy),
        matchConditions: podMatchConditions(),
        variables,
        validations: [
          {
            expression: `${v('mode')} != ${celString(mode)} || size(${v('violations')}) == 0`,
            messageExpression: `${celString(MESSAGE_PREFIX[mode])} + ${v('violations')}.join("; ")`,
            reason: 'Forbidden',
          },
        ],
      },
    });
    objects.push({
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: metadata.binding,
      spec: { policyName: name, validationActions: [...VALIDATION_ACTIONS[mode]] },
    });
  }
  objects.push(...runtimeClassPolicies(policy, variables, metadataFor));
  return objects;
}

function podMatchConstraints(policy: Policy): Record<string, unknown> {
  return {
    // UPDATE too: an image or label change can make a running pod governed (pod-update.ts; the matchCondition).
    resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' }],
    matchPolicy: 'Equivalent',
    namespaceSelector: {
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: [...policy.exemptNamespaces].filter((n) => NAMESPACE_NAME.test(n)),
        },
      ],
    },
  };
}

function podMatchConditions(): Array<{ name: string; expression: string }> {
  // pod-update.ts judgePodUpdate: other UPDATEs (status, tolerations, annotations) are not judged at all.
  return [notAMirrorPodCondition(), { name: 'create-or-image-or-label-change', expression: POD_UPDATE_CHANGES_GOVERNANCE_CEL }];
}

function notAMirrorPodCondition(): { name: string; expression: string } {
  return {
    // decide.ts isMirrorPodFromNode: the annotation alone proves nothing, the requester must be a node.
    name: 'not-a-mirror-pod-from-its-node',
    expression: `!(has(object.metadata.annotations) && ${celString(MIRROR_POD_ANNOTATION)} in object.metadata.annotations && request.userInfo.username.startsWith("system:node:") && has(request.userInfo.groups) && "system:nodes" in request.userInfo.groups)`,
  };
}

/**
 * A sandbox class turned into runc while the webhook is down (issue 10, item 4), closed in the API server:
 *
 * - `sandbox-admission-runtime-classes` refuses creating or updating a RuntimeClass that a profile names with a
 *   host-kernel handler (runtime-class.ts NON_SANDBOX_HANDLERS). The handler is immutable, so "changing" one is
 *   deleting and re-creating it, which this catches.
 * - `sandbox-admission-runtime-class-handlers` is the pod check for a class that already was so (created before
 *   the policy, or the policy changed): `paramKind: RuntimeClass` with `paramRef: {selector: {}}` evaluates it once
 *   per RuntimeClass in the cluster, and a governed enforce-mode pod naming a profile's class whose handler is not a
 *   sandbox is refused with decide's runtime-class-not-sandbox message. No RuntimeClass at all: nothing to check
 *   (parameterNotFoundAction: Allow; the RuntimeClass admission plugin refuses a pod naming a missing class).
 *   warn and audit mode pods get no VAP notice for it (the webhook gives theirs).
 */
function runtimeClassPolicies(
  policy: Policy,
  variables: readonly Variable[],
  metadataFor: (name: string, mode: Mode) => { binding: KubernetesObject['metadata']; policy: KubernetesObject['metadata'] },
): KubernetesObject[] {
  const profileOf: Record<string, string> = {};
  for (const profile of policy.profiles.values()) profileOf[profile.runtimeClassName] ??= profile.name;
  const classes = celList(Object.keys(profileOf));
  const hostKernel = celList([...NON_SANDBOX_HANDLERS]);
  const profileMap = `{${Object.entries(profileOf)
    .map(([rc, profile]) => `${celString(rc)}: ${celString(profile)}`)
    .join(', ')}}`;
  const classPolicy = `${NAME_PREFIX}-runtime-classes`;
  const handlerPolicy = `${NAME_PREFIX}-runtime-class-handlers`;
  const handlerOf = (object: string) => `(has(${object}.handler) ? ${object}.handler : "")`;
  const classMetadata = metadataFor(classPolicy, 'enforce');
  const handlerMetadata = metadataFor(handlerPolicy, 'enforce');
  return [
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: classMetadata.policy,
      spec: {
        failurePolicy: 'Fail',
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
            expression: `!(object.metadata.name in ${classes}) || !(${handlerOf('object')} in ${hostKernel})`,
            messageExpression: celMessage(formatRuntimeClassChangeRefused, {
              runtimeClassName: 'object.metadata.name',
              profile: `${profileMap}[object.metadata.name]`,
              handler: handlerOf('object'),
            }),
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: classMetadata.binding,
      spec: { policyName: classPolicy, validationActions: ['Deny'] },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: handlerMetadata.policy,
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' },
        matchConstraints: podMatchConstraints(policy),
        matchConditions: podMatchConditions(),
        variables: [...variables],
        validations: [
          {
            expression: [
              `${v('mode')} != "enforce" || params.metadata.name != ${v('runtimeClassName')}`,
              `|| !(${v('runtimeClassName')} in ${v('allowed')}) || !(${handlerOf('params')} in ${hostKernel})`,
            ].join('\n'),
            messageExpression: `${celString(MESSAGE_PREFIX.enforce)} + ${celMessage(formatRuntimeClassNotSandbox, { runtimeClassName: 'params.metadata.name', handler: handlerOf('params') })}`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: handlerMetadata.binding,
      spec: { policyName: handlerPolicy, validationActions: ['Deny'], paramRef: { selector: {}, parameterNotFoundAction: 'Allow' } },
    },
  ];
}

/** Enforce always; warn and audit when a rule uses them or a namespace label can ask for them. */
function reachableModes(policy: Policy): Mode[] {
  const used = new Set<Mode>(['enforce']);
  for (const rule of policy.rules) if (rule.action !== 'exempt') used.add(rule.mode);
  if (policy.namespaceLabels.enabled) for (const m of MODES) used.add(m);
  return MODES.filter((m) => used.has(m));
}

interface Variable {
  name: string;
  expression: string;
}

function buildVariables(document: PolicyDocument, policy: Policy): Variable[] {
  const labelsEnabled = policy.namespaceLabels.enabled;
  const unsupported = unsupportedVariables(policy);
  return [
    ...factVariables(document, labelsEnabled),
    ...governingRuleVariables(document, policy),
    governedByVariable(labelsEnabled),
    allowedVariable(policy),
    { name: 'runtimeClassName', expression: 'has(object.spec.runtimeClassName) ? object.spec.runtimeClassName : ""' },
    ...unsupported,
    { name: 'violations', expression: violationsExpression(policy, labelsEnabled, unsupported.length > 0) },
  ];
}

/** What the rules look at, as buildMatchSubject gathers it; only the facts some rule (or the labels) uses. */
function factVariables(document: PolicyDocument, labelsEnabled: boolean): Variable[] {
  const specs = (document.spec.rules ?? []).map((r) => r.match ?? {});
  const uses = (pick: (m: MatchSpec) => unknown): boolean => specs.some((m) => pick(m) !== undefined);
  const out: Variable[] = [];
  const add = (name: string, expression: string): void => {
    out.push({ name, expression });
  };
  if (labelsEnabled || uses((m) => m.namespaceSelector)) {
    add('namespaceLabels', 'has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}');
  }
  if (uses((m) => m.podSelector)) add('podLabels', 'has(object.metadata.labels) ? object.metadata.labels : {}');
  if (uses((m) => m.serviceAccounts)) {
    add(
      'serviceAccount',
      [
        'has(object.spec.serviceAccountName) && object.spec.serviceAccountName != "" ? object.spec.serviceAccountName :',
        'has(object.spec.serviceAccount) && object.spec.serviceAccount != "" ? object.spec.serviceAccount :',
        '"default"',
      ].join('\n'),
    );
  }
  if (uses((m) => m.images)) {
    add(
      'images',
      [
        '((has(object.spec.initContainers) ? object.spec.initContainers.map(c, has(c.image) ? c.image : "") : [])',
        ' + object.spec.containers.map(c, has(c.image) ? c.image : "")',
        ' + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers.map(c, has(c.image) ? c.image : "") : [])',
        ').filter(i, i != "")',
      ].join('\n'),
    );
    out.push(...imageRefVariables());
  }
  return out;
}

/** Every container image (variables.images) as a [host, path] pair. */
function imageRefVariables(): Variable[] {
  const out: Variable[] = [];
  const add = (name: string, expression: string): void => {
    out.push({ name, expression });
  };
  // image-ref.ts parseImageLocation into [host, path] pairs, one step per map (CEL has no let) and a few steps
  // per variable (each variable has its own per-call cost limit): drop the digest; the first segment is the
  // registry host when it has "." or ":" or is "localhost", else the host is docker.io; index.docker.io and
  // registry-1.docker.io are docker.io; drop the tag (a ":" after the last "/"); a one-segment Docker Hub path is library/<name>.
  // String functions only: their cost is linear in the length, a regex's is multiplied by the pattern's.
  add('imageNames', `${v('images')}.map(i, i.split("@")[0])`);
  add('imageFirstSegments', `${v('imageNames')}.map(i, [i.indexOf("/") == -1 ? "" : i.substring(0, i.indexOf("/")), i])`);
  add(
    'imageHostPaths',
    `${v('imageFirstSegments')}.map(fi, fi[0].contains(".") || fi[0].contains(":") || fi[0] == "localhost" ? [fi[0].lowerAscii(), fi[1].substring(size(fi[0]) + 1)] : ["docker.io", fi[1]])`,
  );
  add(
    'imageRefs',
    [
      `${v('imageHostPaths')}`,
      `.map(hp, [hp[0] in ${celList(DOCKER_HUB_ALIASES)} ? "docker.io" : hp[0], hp[1].indexOf(":", hp[1].lastIndexOf("/") + 1) == -1 ? hp[1] : hp[1].substring(0, hp[1].indexOf(":", hp[1].lastIndexOf("/") + 1))])`,
      '.map(hp, hp[0] == "docker.io" && !hp[1].contains("/") ? [hp[0], "library/" + hp[1]] : hp)',
    ].join('\n'),
  );
  return out;
}

/** `rule` (the governing rule's name, "" for a namespace label or none) and its `mode`. */
function governingRuleVariables(document: PolicyDocument, policy: Policy): Variable[] {
  const labelsEnabled = policy.namespaceLabels.enabled;
  const out: Variable[] = [];
  const add = (name: string, expression: string): void => {
    out.push({ name, expression });
  };
  // The first rule that matches, by name ("" when none): a chain of conditionals evaluates in order and stops
  // at the first match, so an exempt rule shields every rule after it.
  const chain = (document.spec.rules ?? []).map((rule) => {
    const condition = matchCondition(rule.match ?? {});
    return condition === 'true' ? celString(rule.name) : `${condition} ? ${celString(rule.name)} :`;
  });
  const complete = chain.findIndex((line) => !line.endsWith(' :'));
  add(labelsEnabled ? 'matchedRule' : 'rule', complete === -1 ? [...chain, '""'].join('\n') : chain.slice(0, complete + 1).join('\n'));

  // The matched rule's mode, "" for an exempt rule or none (decide.ts strictness ranks both below every mode).
  const matched = v(labelsEnabled ? 'matchedRule' : 'rule');
  const ruleModeLines: string[] = [];
  for (const mode of MODES) {
    const names = policy.rules.filter((r) => r.action !== 'exempt' && r.mode === mode).map((r) => r.name);
    if (names.length > 0) ruleModeLines.push(`${matched} in ${celList(names)} ? ${celString(mode)} :`);
  }
  ruleModeLines.push('""');
  if (!labelsEnabled) {
    add('mode', ruleModeLines.join('\n'));
  } else {
    add('ruleMode', ruleModeLines.join('\n'));
    const labels = v('namespaceLabels');
    const modeLabel = `${labels}[${celString(NAMESPACE_MODE_LABEL)}]`;
    add(
      'labelMode',
      [
        `!(${celString(NAMESPACE_RUNTIME_LABEL)} in ${labels}) ? "" :`,
        `!(${celString(NAMESPACE_MODE_LABEL)} in ${labels}) ? ${celString(policy.namespaceLabels.defaultMode)} :`,
        // An unreadable mode label falls back to the strictest mode, never to the policy default.
        `${modeLabel} in ["warn", "audit"] ? ${modeLabel} : "enforce"`,
      ].join('\n'),
    );
    // The namespace label is a floor (decide.ts findGoverningRule): the matched rule governs unless the label
    // asks for a stricter mode; then the label does, shown as rule "".
    const strength = (m: string) => `(${m} == "enforce" ? 2 : ${m} == "warn" ? 1 : ${m} == "audit" ? 0 : -1)`;
    add('rule', `${v('labelMode')} != "" && ${strength(v('labelMode'))} > ${strength(v('ruleMode'))} ? "" : ${v('matchedRule')}`);
    add('mode', `${v('rule')} != "" ? ${v('ruleMode')} : ${v('labelMode')}`);
  }
  return out;
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

/** Field paths of features the requested class's profile cannot host (unsupported-features.ts findUnsupportedFeatures); none: no variable. */
function unsupportedVariables(policy: Policy): Variable[] {
  const byFeatures = new Map<string, string[]>();
  for (const profile of policy.profiles.values()) {
    if (profile.unsupported.size === 0) continue;
    const key = [...profile.unsupported].sort().join(',');
    byFeatures.set(key, [...(byFeatures.get(key) ?? []), profile.runtimeClassName]);
  }
  if (byFeatures.size === 0) return [];
  const lines = [...byFeatures].map(([key, classes]) => {
    const features = new Set(key.split(',') as PodFeature[]);
    const test =
      classes.length === 1 ? `${v('runtimeClassName')} == ${celString(classes[0]!)}` : `${v('runtimeClassName')} in ${celList(classes)}`;
    return `${test} ? ${featurePaths(features)} :`;
  });
  return [{ name: 'unsupported', expression: [...lines, '[]'].join('\n') }];
}

/** compile.ts compileMatch: every criterion present must hold, in the same order. */
function matchCondition(match: MatchSpec): string {
  const terms: string[] = [];
  if (match.namespaces) terms.push(celGlobList('request.namespace', match.namespaces));
  if (match.excludeNamespaces) terms.push(`!(${celGlobList('request.namespace', match.excludeNamespaces)})`);
  if (match.namespaceSelector) terms.push(celLabelSelector(v('namespaceLabels'), match.namespaceSelector));
  if (match.podSelector) terms.push(celLabelSelector(v('podLabels'), match.podSelector));
  if (match.serviceAccounts) terms.push(celGlobList(v('serviceAccount'), match.serviceAccounts));
  if (match.images?.from) terms.push(`${v('imageRefs')}.exists(ref, ${celImagePatterns('ref', match.images.from)})`);
  if (match.images?.notFrom) terms.push(`${v('imageRefs')}.exists(ref, !(${celImagePatterns('ref', match.images.notFrom)}))`);
  return celAnd(terms.filter((t) => t !== 'true'));
}

/** decide.ts applyRule with mutate: false, as a list of messages in the decision's order. */
function violationsExpression(policy: Policy, labelsEnabled: boolean, hasFeatureChecks: boolean): string {
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
  const notAllowed = celMessage(
    ({ asked, governedBy, allowed: list }) => formatRuntimeNotAllowed({ asked, governedBy, allowed: list, mutates: false }),
    { asked: rc, governedBy: by, allowed },
  );
  const runtime = [
    `(${rc} == "" ? [${celMessage(formatNoSandboxRuntime, { governedBy: by, allowed })}] :`,
    `!(${rc} in ${v('allowed')}) ? [${notAllowed}] :`,
  ];
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

/** Every place the pod uses one of `features`, as kubectl-style paths, in unsupported-features.ts's order. */
function featurePaths(features: ReadonlySet<PodFeature>): string {
  const parts: string[] = [];
  const flag = (feature: PodFeature, condition: string, path: string): void => {
    if (features.has(feature)) parts.push(`(${condition} ? [${celString(path)}] : [])`);
  };
  flag('hostNetwork', 'has(object.spec.hostNetwork) && object.spec.hostNetwork', 'spec.hostNetwork');
  flag('hostPID', 'has(object.spec.hostPID) && object.spec.hostPID', 'spec.hostPID');
  flag('hostIPC', 'has(object.spec.hostIPC) && object.spec.hostIPC', 'spec.hostIPC');
  flag('userNamespace', 'has(object.spec.hostUsers) && !object.spec.hostUsers', 'spec.hostUsers');
  if (features.has('hostPath')) {
    parts.push(
      '(has(object.spec.volumes) ? object.spec.volumes.transformList(i, vol, has(vol.hostPath), "spec.volumes[" + string(i) + "].hostPath") : [])',
    );
  }
  const perContainer = (field: string): string[] => {
    const at = `"spec.${field}[" + string(i) + "]`;
    const items: string[] = [];
    if (features.has('privileged')) {
      items.push(
        `(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged ? [${at}.securityContext.privileged"] : [])`,
      );
    }
    if (features.has('unmaskedProcMount')) {
      items.push(
        `(has(c.securityContext) && has(c.securityContext.procMount) && c.securityContext.procMount == "Unmasked" ? [${at}.securityContext.procMount"] : [])`,
      );
    }
    if (features.has('hostPort')) {
      items.push(
        `(has(c.ports) ? c.ports.transformList(j, p, has(p.hostPort) && p.hostPort != 0, ${at}.ports[" + string(j) + "].hostPort") : [])`,
      );
    }
    return items;
  };
  for (const field of ['initContainers', 'containers', 'ephemeralContainers']) {
    const items = perContainer(field);
    if (items.length === 0) continue;
    parts.push(
      `(has(object.spec.${field}) ? object.spec.${field}.transformList(i, c,\n      ${items.join('\n      + ')}\n    ).flatten() : [])`,
    );
  }
  return parts.length === 0 ? '[]' : `(\n  ${parts.join('\n  + ')}\n)`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Multi-document YAML with a header that says where it comes from, as `render vap` prints it. */
export function formatVapYaml(objects: readonly KubernetesObject[], header: string): string {
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }));
  return `${header
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n')}\n${docs.join('---\n')}`;
}

/** A `v1 List`, which kubectl apply -f accepts like the YAML stream. */
export function formatVapJson(objects: readonly KubernetesObject[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}
