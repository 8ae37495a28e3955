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
    else if (NON_SANDBOX_HANDLERS.has(rc.handler))
      problems.push({ profile: profile.name, runtimeClassName: rc.name, problem: 'not-sandbox', handler: rc.handler });
  }
  return problems;
}

export interface RuntimeClassMonitor {
  /** The problems found by the last check ([] when every profile has a sandbox RuntimeClass). */
  problems(): readonly RuntimeClassProblem[];
  stop(): void;
}

/**
 * Re-checks the profiles against the cluster's RuntimeClasses on an interval (both change without a restart) and
 * reports only changes: one log line, and the gauge set to the current problems. No cluster facts, no checks.
 */
export function startRuntimeClassMonitor(options: {
  policy: () => Policy;
  runtimeClasses: () => ReadonlyMap<string, RuntimeClassFacts> | undefined;
  onChange: (problems: readonly RuntimeClassProblem[]) => void;
  intervalMs: number;
}): RuntimeClassMonitor {
  let current: RuntimeClassProblem[] = [];
  const check = (): void => {
    const classes = options.runtimeClasses();
    if (!classes) return;
    const next = findRuntimeClassProblems(options.policy(), classes);
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    current = next;
    options.onChange(next);
  };
  check();
  const timer = setInterval(check, options.intervalMs);
  timer.unref();
  return { problems: () => current, stop: () => clearInterval(timer) };
}
