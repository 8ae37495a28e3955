import { Counter, type Registry } from 'prom-client';

/** What one review decided, as the labels of sandbox_admission_decisions_total; every value is bounded by the policy. */
export interface DecisionLabels {
  endpoint: 'mutate' | 'validate';
  /** pod, pod-ephemeral-containers, namespace, workload, runtime-class, other. */
  resource: string;
  /** The governing policy rule, `namespace-label`, or `none`. */
  rule: string;
  /** The profile the pod ends up in (gvisor, kata, ...), `other` for a class no profile has, `none` without one. */
  runtime: string;
  action: 'patched' | 'allowed' | 'denied' | 'exempt';
  /** The governing rule's mode, or `none` when nothing governed the object. */
  mode: string;
}

export interface DecisionCounter {
  count(labels: DecisionLabels): void;
}

const LABEL_NAMES = ['endpoint', 'resource', 'rule', 'runtime', 'action', 'mode'] as const;

type Cell = { labels: DecisionLabels; value: number };

/**
 * sandbox_admission_decisions_total, counted on the review path without prom-client's per-call label hashing and
 * validation: each label combination gets a cell the first time it is seen (bounded: rules x profiles x 4 actions),
 * later reviews find it with one Map lookup and add 1. The cells are copied into the prom-client counter only when
 * the registry is scraped.
 */
export function createDecisionCounter(registry: Registry, name: string): DecisionCounter {
  const cells = new Map<string, Cell>();
  new Counter({
    name,
    help: 'Admission reviews answered, by endpoint, resource, governing rule, runtime profile, action taken (patched, allowed, denied, exempt) and mode.',
    labelNames: LABEL_NAMES,
    registers: [registry],
    collect() {
      this.reset();
      for (const cell of cells.values()) this.inc({ ...cell.labels }, cell.value);
    },
  });
  return {
    count(labels) {
      const key = `${labels.endpoint}\u0000${labels.resource}\u0000${labels.rule}\u0000${labels.runtime}\u0000${labels.action}\u0000${labels.mode}`;
      const cell = cells.get(key);
      if (cell) cell.value += 1;
      else cells.set(key, { labels: { ...labels }, value: 1 });
    },
  };
}
