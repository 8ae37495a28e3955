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
}

/**
 * Anyone who may edit a Namespace could otherwise switch its sandbox policy off. Removing or changing the
 * runtime label, or weakening the mode (enforce > warn > audit, an absent or unreadable mode counting as the
 * policy default or enforce), is reserved to the policy's allowed groups and users. Strengthening is open to all.
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
  const isAdmin =
    (requester?.groups ?? []).some((g) => policy.namespaceLabels.allowedGroups.has(g)) ||
    policy.namespaceLabels.allowedUsers.has(requester?.username ?? '');
  const problems = findWeakenings(change);
  if (problems.length === 0) return base;
  if (isAdmin)
    return {
      ...base,
      reason: `namespace labels weakened by an allowed admin: ${problems.join('; ')}`,
      auditAnnotations: { decision: 'namespace-labels-weakened', by: requester?.username ?? '' },
    };
  const who =
    [...policy.namespaceLabels.allowedGroups]
      .map((g) => `group ${g}`)
      .concat([...policy.namespaceLabels.allowedUsers].map((u) => `user ${u}`))
      .join(', ') || 'nobody';
  return {
    ...base,
    allowed: false,
    reason: 'namespace label change refused',
    message: `sandbox-admission denied this namespace change: ${problems.join('; ')}. Only ${who} (spec.namespaceLabels.allowedGroups/allowedUsers of the policy) may weaken sandbox-admission.io labels`,
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
