import { decide } from '../decision/decide.ts';
import type { Violation } from '../decision/types.ts';
import type { Pod } from '../k8s/pod.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Mode, Policy } from '../policy/types.ts';

/** What judging a pod that already runs depends on: the policy in force and the cluster as it is now. */
export interface AuditFacts {
  policy: Policy;
  /** Labels by namespace name; a namespace missing here is judged as having no labels. */
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  runtimeClasses: ReadonlyMap<string, RuntimeClassFacts>;
}

export type ViolationKind = Violation['kind'];

/** One governed pod: the rule that governs it and what, if anything, is wrong with it. */
export interface AuditEntry {
  namespace: string;
  pod: string;
  /** Policy rule name, or `namespace-label`. */
  rule: string;
  source: 'rule' | 'namespace-label';
  mode: Mode;
  /** null when the pod names no RuntimeClass (it runs on the node's default runtime). */
  runtimeClassName: string | null;
  /** True when the pod would be refused today (enforce) or breaks a warn/audit rule. */
  finding: boolean;
  violations: Array<{ kind: ViolationKind; message: string; paths: string[] }>;
}

/** Counts over one scan; each finding pod counts once, under the kind of its first violation. */
export interface AuditSummary {
  /** Pods evaluated (not in phase Succeeded or Failed). */
  scanned: number;
  governed: number;
  findings: number;
  findingsByMode: Record<Mode, number>;
  findingsByKind: Array<{ mode: Mode; kind: ViolationKind; pods: number }>;
}

/**
 * Judge a pod that already exists as the validating backstop would judge its creation today: a CREATE
 * without mutation, with its namespace's labels and the cluster's RuntimeClasses. Nobody can tell now who
 * created the pod, so there is no requester (a mirror pod in a governed namespace is reported like any other).
 * Returns undefined for a pod no rule governs (no match, exempt namespace, exempt rule).
 */
export function auditPod(pod: Pod, facts: AuditFacts): AuditEntry | undefined {
  const namespace = pod.metadata?.namespace ?? '';
  const decision = decide({
    operation: 'CREATE',
    mutate: false,
    namespace,
    pod,
    namespaceFacts: { name: namespace, labels: facts.namespaceLabels.get(namespace) ?? {} },
    policy: facts.policy,
    runtimeClasses: facts.runtimeClasses,
  });
  if (
    (decision.source !== 'rule' && decision.source !== 'namespace-label') ||
    decision.action === 'exempt' ||
    decision.rule === undefined
  ) {
    return undefined;
  }
  return {
    namespace,
    pod: pod.metadata?.name ?? '<unnamed>',
    rule: decision.rule,
    source: decision.source,
    mode: decision.mode,
    runtimeClassName: decision.runtimeClassName ?? null,
    finding: !decision.allowed || decision.violations.length > 0,
    violations: decision.violations.map((v) => ({ kind: v.kind, message: v.message, paths: [...v.paths] })),
  };
}

export interface AuditTally {
  /** Count one scanned pod: its entry, or undefined when it is not governed. */
  count(entry: AuditEntry | undefined): void;
  summary(): AuditSummary;
}

/** Running counts, so a scan can drop each page of pods as soon as it is judged. */
export function createAuditTally(): AuditTally {
  let scanned = 0;
  let governed = 0;
  let findings = 0;
  const byMode: Record<Mode, number> = { enforce: 0, warn: 0, audit: 0 };
  const byKind = new Map<string, { mode: Mode; kind: ViolationKind; pods: number }>();
  return {
    count: (entry) => {
      scanned++;
      if (!entry) return;
      governed++;
      if (!entry.finding) return;
      findings++;
      byMode[entry.mode]++;
      // A denied pod always carries a violation; the fallback only guards a future decision that does not.
      const kind = entry.violations[0]?.kind ?? 'runtime-not-allowed';
      const key = `${entry.mode}/${kind}`;
      const slot = byKind.get(key);
      if (slot) slot.pods++;
      else byKind.set(key, { mode: entry.mode, kind, pods: 1 });
    },
    summary: () => ({
      scanned,
      governed,
      findings,
      findingsByMode: { ...byMode },
      findingsByKind: [...byKind.values()].map((k) => ({ ...k })),
    }),
  };
}

/** The audit of a list of pods held in memory: every governed pod's entry, in input order, and the counts. */
export function auditPods(pods: Iterable<Pod>, facts: AuditFacts): { entries: AuditEntry[]; summary: AuditSummary } {
  const tally = createAuditTally();
  const entries: AuditEntry[] = [];
  for (const pod of pods) {
    const entry = auditPod(pod, facts);
    tally.count(entry);
    if (entry) entries.push(entry);
  }
  return { entries, summary: tally.summary() };
}
