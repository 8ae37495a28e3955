/**
 * What the validating and the mutating admission policies share, so that they cannot disagree about which pods a
 * rule governs: the match constraints (pods outside the exempt namespaces), the mirror-pod condition, the
 * facts the rules look at, the governing rule (first match, then the namespace-label floor) and the features a
 * profile cannot host, as CEL variables. Each mirrors decide() (src/decision/decide.ts) step by step.
 */
import { stringify } from 'yaml';
import { POD_UPDATE_CHANGES_GOVERNANCE_CEL } from '../decision/pod-update.ts';
import { MIRROR_POD_ANNOTATION } from '../k8s/pod.ts';
import { DOCKER_HUB_ALIASES } from '../match/image-ref.ts';
import { NAMESPACE_MODE_LABEL, NAMESPACE_RUNTIME_LABEL } from '../policy/defaults.ts';
import type { MatchSpec } from '../match/types.ts';
import type { Mode, PodFeature, Policy, PolicyDocument, Profile } from '../policy/types.ts';
import { celAnd, celGlobList, celImagePatterns, celLabelSelector, celList, celString } from './cel.ts';

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

export const ADMISSION_API_VERSION = 'admissionregistration.k8s.io/v1';
export const MODES: readonly Mode[] = ['enforce', 'warn', 'audit'];
/** The only namespace names that can exist (DNS-1123 labels); anything else in exemptNamespaces matches nothing. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const v = (name: string): string => `variables.${name}`;

/**
 * Pods outside the exempt namespaces, for `operations`: CREATE (the only operation decide() mutates) for the
 * MutatingAdmissionPolicy; CREATE and UPDATE for the validating ones, with POD_CHANGES_GOVERNANCE.
 */
export function buildPodConstraints(policy: Policy, operations: ReadonlyArray<'CREATE' | 'UPDATE'>): Record<string, unknown> {
  return {
    resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: [...operations], resources: ['pods'], scope: 'Namespaced' }],
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

/** decide.ts isMirrorPodFromNode: the annotation alone proves nothing, the requester must be a node. */
export const NOT_A_MIRROR_POD_FROM_ITS_NODE = {
  name: 'not-a-mirror-pod-from-its-node',
  expression: `!(has(object.metadata.annotations) && ${celString(MIRROR_POD_ANNOTATION)} in object.metadata.annotations && request.userInfo.username.startsWith("system:node:") && has(request.userInfo.groups) && "system:nodes" in request.userInfo.groups)`,
};

/**
 * pod-update.ts judgePodUpdate: an UPDATE is judged only when it changes an image or a label (it can make a running
 * pod governed); other UPDATEs (status, tolerations, annotations) are not judged at all.
 */
export const POD_CHANGES_GOVERNANCE = { name: 'create-or-image-or-label-change', expression: POD_UPDATE_CHANGES_GOVERNANCE_CEL };

export interface Variable {
  name: string;
  expression: string;
}

/** What the rules look at, as buildMatchSubject gathers it; only the facts some rule (or the labels) uses. */
export function factVariables(document: PolicyDocument, labelsEnabled: boolean): Variable[] {
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
export function governingRuleVariables(document: PolicyDocument, policy: Policy): Variable[] {
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

/** Field paths of features the class `runtimeClassName` (a CEL expression; the pod's own by default) cannot host (unsupported-features.ts findUnsupportedFeatures); none: no variable. */
export function unsupportedVariables(policy: Policy, runtimeClassName = v('runtimeClassName'), name = 'unsupported'): Variable[] {
  const byFeatures = new Map<string, string[]>();
  for (const profile of policy.profiles.values()) {
    if (profile.unsupported.size === 0) continue;
    const key = [...profile.unsupported].sort().join(',');
    byFeatures.set(key, [...(byFeatures.get(key) ?? []), profile.runtimeClassName]);
  }
  if (byFeatures.size === 0) return [];
  const lines = [...byFeatures].map(([key, classes]) => {
    const features = new Set(key.split(',') as PodFeature[]);
    const test = classes.length === 1 ? `${runtimeClassName} == ${celString(classes[0]!)}` : `${runtimeClassName} in ${celList(classes)}`;
    return `${test} ? ${featurePaths(features)} :`;
  });
  return [{ name, expression: [...lines, '[]'].join('\n') }];
}

/** compile.ts compileMatch: every criterion present must hold, in the same order. */
export function matchCondition(match: MatchSpec): string {
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

/** Every place the pod uses one of `features`, as kubectl-style paths, in unsupported-features.ts's order. */
export function featurePaths(features: ReadonlySet<PodFeature>): string {
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

/**
 * The profile a sandbox rule (or a namespace label) moves the pod into and its RuntimeClass, "" when none: the
 * pod names no class and the rule injects one, or it names an allowed class. Needs `runtimeClassName`.
 */
export function targetProfileVariables(policy: Policy): Variable[] {
  return [
    { name: 'profile', expression: profileExpression(policy) },
    {
      name: 'targetClass',
      expression: `${v('profile')} == "" ? "" : {${[...policy.profiles.values()].map((p) => `${celString(p.name)}: ${celString(p.runtimeClassName)}`).join(', ')}}[${v('profile')}]`,
    },
  ];
}

/**
 * The name of the profile the pod is moved into, "" when decide() would not patch it: a sandbox rule (or a
 * namespace label naming a known profile) governs, and the pod names no class (the rule's profile) or an allowed
 * one (that class's profile: decide() completes its scheduling).
 */
function profileExpression(policy: Policy): string {
  const rc = v('runtimeClassName');
  const byClass = `{${[...policy.profilesByRuntimeClass].map(([cls, p]) => `${celString(cls)}: ${celString(p.name)}`).join(', ')}}`;
  const choose = (injected: string, allowedClasses: readonly string[]): string =>
    `(${rc} == "" ? ${injected} : ${rc} in ${celList(allowedClasses)} ? ${byClass}[${rc}] : "")`;
  const groups = new Map<string, { names: string[]; profile: Profile; allowed: readonly string[] }>();
  for (const rule of policy.rules) {
    if (rule.action !== 'sandbox' || !rule.profile) continue;
    const key = `${rule.profile.name}\u0000${rule.allowedClasses.join(',')}`;
    const group = groups.get(key) ?? { names: [], profile: rule.profile, allowed: rule.allowedClasses };
    group.names.push(rule.name);
    groups.set(key, group);
  }
  const lines = [...groups.values()].map(
    (g) =>
      `${g.names.length === 1 ? `${v('rule')} == ${celString(g.names[0]!)}` : `${v('rule')} in ${celList(g.names)}`} ? ${choose(celString(g.profile.name), g.allowed)} :`,
  );
  if (policy.namespaceLabels.enabled) {
    // decide.ts findNamespaceLabelRule: the label's profile, every class allowed; an unknown profile is a violation.
    const wanted = `${v('namespaceLabels')}[${celString(NAMESPACE_RUNTIME_LABEL)}]`;
    lines.push(
      `${v('rule')} == "" && ${v('labelMode')} != "" && ${wanted} in ${celList([...policy.profiles.keys()])} ? ${choose(wanted, policy.allRuntimeClasses)} :`,
    );
  }
  return [...lines, '""'].join('\n');
}
