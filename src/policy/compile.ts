import { compileGlobList } from '../decision/glob.ts';
import { compileImagePattern } from '../decision/image-ref.ts';
import { compileLabelSelector } from '../decision/label-selector.ts';
import { BUILTIN_PROFILES, DEFAULT_EXEMPT_NAMESPACES, DEFAULT_LABEL_ADMIN_GROUPS } from './defaults.ts';
import type { CompiledRule, MatchSpec, MatchSubject, Policy, PolicyDocument, Profile, ProfileSpec } from './types.ts';

/** Turn a validated document into matchers and lookups once, so a request only runs closures. */
export function compilePolicy(document: PolicyDocument, webhookNamespace: string): Policy {
  const profiles = new Map<string, Profile>();
  for (const [name, spec] of Object.entries({ ...BUILTIN_PROFILES, ...(document.spec.profiles ?? {}) })) {
    profiles.set(name, compileProfile(name, spec));
  }
  const allProfiles = [...profiles.values()];
  const rules: CompiledRule[] = (document.spec.rules ?? []).map((rule) => {
    const profile = rule.runtime === undefined ? undefined : profiles.get(rule.runtime);
    const allowed = rule.allowedRuntimes ? rule.allowedRuntimes.map((n) => profiles.get(n)!) : allProfiles;
    return {
      name: rule.name,
      action: rule.action,
      mode: rule.mode ?? 'enforce',
      profile,
      allowed,
      allowedClasses: allowed.map((p) => p.runtimeClassName),
      matches: compileMatch(rule.match ?? {}),
    };
  });
  return {
    name: document.metadata?.name ?? 'sandbox-policy',
    exemptNamespaces: new Set([...(document.spec.exemptNamespaces ?? DEFAULT_EXEMPT_NAMESPACES), webhookNamespace]),
    profiles,
    allRuntimeClasses: allProfiles.map((p) => p.runtimeClassName),
    profilesByRuntimeClass: new Map(allProfiles.map((p) => [p.runtimeClassName, p])),
    namespaceLabels: {
      enabled: document.spec.namespaceLabels?.enabled ?? true,
      defaultMode: document.spec.namespaceLabels?.defaultMode ?? 'enforce',
      allowedGroups: new Set(document.spec.namespaceLabels?.allowedGroups ?? DEFAULT_LABEL_ADMIN_GROUPS),
      allowedUsers: new Set(document.spec.namespaceLabels?.allowedUsers ?? []),
    },
    rules,
  };
}

function compileProfile(name: string, spec: ProfileSpec): Profile {
  return {
    name,
    runtimeClassName: spec.runtimeClassName,
    displayName: spec.displayName ?? name,
    nodeAffinity: spec.nodeAffinity ?? [],
    nodeSelector: spec.nodeSelector,
    tolerations: spec.tolerations,
    unsupported: new Set(spec.unsupported ?? []),
  };
}

/** Every criterion present must hold; an absent criterion matches everything. */
function compileMatch(match: MatchSpec): (subject: MatchSubject) => boolean {
  const checks: Array<(s: MatchSubject) => boolean> = [];
  if (match.namespaces) {
    const inList = compileGlobList(match.namespaces);
    checks.push((s) => inList(s.namespace));
  }
  if (match.excludeNamespaces) {
    const excluded = compileGlobList(match.excludeNamespaces);
    checks.push((s) => !excluded(s.namespace));
  }
  if (match.namespaceSelector) {
    const selects = compileLabelSelector(match.namespaceSelector);
    checks.push((s) => selects(s.namespaceLabels));
  }
  if (match.podSelector) {
    const selects = compileLabelSelector(match.podSelector);
    checks.push((s) => selects(s.podLabels));
  }
  if (match.serviceAccounts) {
    const inList = compileGlobList(match.serviceAccounts);
    checks.push((s) => inList(s.serviceAccount));
  }
  if (match.images?.from) {
    const patterns = match.images.from.map(compileImagePattern);
    checks.push((s) => s.images.some((image) => patterns.some((p) => p(image))));
  }
  if (match.images?.notFrom) {
    const patterns = match.images.notFrom.map(compileImagePattern);
    checks.push((s) => s.images.some((image) => !patterns.some((p) => p(image))));
  }
  return (subject) => checks.every((check) => check(subject));
}
