import { NON_SANDBOX_HANDLERS, type RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Policy } from '../policy/types.ts';

export interface RuntimeClassProblem {
  profile: string;
  runtimeClassName: string;
  problem: 'missing' | 'not-sandbox';
  handler?: string;
}

/** Profiles the cluster cannot honour; pods routed to them are refused by the decision with the same finding. */
export function findRuntimeClassProblems(policy: Policy, classes: ReadonlyMap<string, RuntimeClassFacts>): RuntimeClassProblem[] {
  const problems: RuntimeClassProblem[] = [];
  for (const profile of policy.profiles.values()) {
    const rc = classes.get(profile.runtimeClassName);
    if (!rc) problems.push({ profile: profile.name, runtimeClassName: profile.runtimeClassName, problem: 'missing' });
    else if (NON_SANDBOX_HANDLERS.has(rc.handler)) problems.push({ profile: profile.name, runtimeClassName: rc.name, problem: 'not-sandbox', handler: rc.handler });
  }
  return problems;
}
