import { compileMatch } from '../match/compile-match.ts';
import { BUILTIN_PROFILES, DEFAULT_EXEMPT_NAMESPACES, DEFAULT_LABEL_ADMIN_GROUPS } from './defaults.ts';
import type { CompiledRule, Policy, PolicyDocument, Profile, ProfileSpec } from './types.ts';

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
