import { NAMESPACE_MODE_LABEL, NAMESPACE_RUNTIME_LABEL } from '../policy/defaults.ts';
import { MODE_STRENGTH as STRENGTH, parseNamespaceMode } from '../policy/mode.ts';
import type { Mode, Policy } from '../policy/types.ts';
import type { Requester, Verdict } from './types.ts';

export interface NamespaceChange {
  operation: string;
  labels: Readonly<Record<string, string>>;
  /** Labels before an UPDATE; undefined on CREATE. */
  oldLabels: Readonly<Record<string, string>> | undefined;
  requester: Requester | undefined;
  policy: Policy;
  /**
   * The API server's answer to a SubjectAccessReview for WEAKEN_NAMESPACE_PERMISSION, asked only when the change
   * weakens and the requester is not in the policy's lists: 'allowed', 'denied', or 'error' (not known: refused).
   */
  rbac?: 'allowed' | 'denied' | 'error';
}

/**
 * The RBAC permission that lets a subject weaken a namespace's sandbox-admission.io labels: a custom verb on a
 * virtual resource, as PodSecurityPolicy's `use` was. The namespace is both the attribute's namespace and its
 * name, so a ClusterRoleBinding grants it everywhere and a RoleBinding in one namespace grants it there only.
 * manifests/base/rbac.yaml ships the ClusterRole `sandbox-admission-namespace-label-admin` with it.
 */
export const WEAKEN_NAMESPACE_PERMISSION = { group: 'sandbox-admission.io', resource: 'namespacelabels', verb: 'weaken' } as const;

/** Whether the change weakens labels and only RBAC could allow it: the handler then asks the API server. */
export function needsWeakeningAuthorization(change: NamespaceChange): boolean {
  return findWeakenings(change).length > 0 && !isListedAdmin(change);
}

function isListedAdmin({ policy, requester }: NamespaceChange): boolean {
  return (
    (requester?.groups ?? []).some((g) => policy.namespaceLabels.allowedGroups.has(g)) ||
    policy.namespaceLabels.allowedUsers.has(requester?.username ?? '')
  );
}

/**
 * Anyone who may edit a Namespace could otherwise switch its sandbox policy off. Removing or changing the
 * runtime label, or weakening the mode (enforce > warn > audit, an absent or unreadable mode counting as the
 * policy default or enforce), is reserved to the policy's allowed groups and users and to whoever RBAC grants
 * WEAKEN_NAMESPACE_PERMISSION (managed clusters give nobody system:masters). Strengthening is open to all.
 */
export function guardNamespaceLabels(change: NamespaceChange): Verdict {
  const base: Verdict = {
    allowed: true,
    warnings: [],
    auditAnnotations: {},
    reason: 'namespace labels unchanged or strengthened',
    rule: undefined,
    action: 'guard-namespace',
    mode: 'enforce',
  };
  const { policy, requester } = change;
  const problems = findWeakenings(change);
  if (problems.length === 0) return base;
  if (isListedAdmin(change) || change.rbac === 'allowed') {
    const by = change.rbac === 'allowed' && !isListedAdmin(change) ? 'an admin granted it by RBAC' : 'an allowed admin';
    return {
      ...base,
      reason: `namespace labels weakened by ${by}: ${problems.join('; ')}`,
      auditAnnotations: { decision: 'namespace-labels-weakened', by: requester?.username ?? '' },
    };
  }
  const who =
    [...policy.namespaceLabels.allowedGroups]
      .map((g) => `group ${g}`)
      .concat([...policy.namespaceLabels.allowedUsers].map((u) => `user ${u}`))
      .join(', ') || 'nobody';
  const { verb, resource, group } = WEAKEN_NAMESPACE_PERMISSION;
  const unchecked = change.rbac === 'error' ? ' (the RBAC check could not be made just now; retry)' : '';
  return {
    ...base,
    allowed: false,
    reason: 'namespace label change refused',
    message: `sandbox-admission denied this namespace change: ${problems.join('; ')}. Only ${who} (spec.namespaceLabels.allowedGroups/allowedUsers of the policy), or whoever RBAC grants the verb "${verb}" on ${resource}.${group} (ClusterRole sandbox-admission-namespace-label-admin), may weaken sandbox-admission.io labels${unchecked}`,
    auditAnnotations: { decision: 'denied', violation: 'namespace-labels-weakened' },
  };
}

function findWeakenings({ operation, labels, oldLabels, policy }: NamespaceChange): string[] {
  const problems: string[] = [];
  const mode = (value: string | undefined): Mode => parseNamespaceMode(value, policy.namespaceLabels.defaultMode);
  if (operation === 'CREATE' || oldLabels === undefined) {
    const asked = labels[NAMESPACE_MODE_LABEL];
    if (asked !== undefined && STRENGTH[mode(asked)] < STRENGTH.enforce) {
      problems.push(`a new namespace may not start with ${NAMESPACE_MODE_LABEL}=${asked}`);
    }
    return problems;
  }
  const before = oldLabels[NAMESPACE_RUNTIME_LABEL];
  const after = labels[NAMESPACE_RUNTIME_LABEL];
  if (before !== undefined && after === undefined) problems.push(`removing ${NAMESPACE_RUNTIME_LABEL}=${before} is not allowed`);
  else if (before !== undefined && after !== before)
    problems.push(`changing ${NAMESPACE_RUNTIME_LABEL} from ${before} to ${after} is not allowed`);
  const oldMode = mode(oldLabels[NAMESPACE_MODE_LABEL]);
  const newMode = mode(labels[NAMESPACE_MODE_LABEL]);
  if (STRENGTH[newMode] < STRENGTH[oldMode])
    problems.push(`weakening ${NAMESPACE_MODE_LABEL} from ${oldMode} to ${newMode} is not allowed`);
  return problems;
}
