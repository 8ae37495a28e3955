import type { Policy } from '../policy/types.ts';
import { auditPod, createAuditTally, type AuditEntry, type AuditFacts, type AuditSummary } from './audit-pods.ts';
import {
  listActivePodPages,
  listNamespaceLabels,
  listRuntimeClassFacts,
  readNamespaceLabels,
  type AuditApis,
} from './list-cluster-state.ts';

export interface ClusterAuditOptions {
  policy: Policy;
  /** One namespace, or all when undefined. */
  namespace?: string;
  pageSize?: number;
  /** Called for every governed pod as its page is judged; keep what you need, the page is then dropped. */
  onEntry?: (entry: AuditEntry) => void;
  /** Checked between pages: true ends the scan early with ClusterAuditStopped. */
  stopRequested?: () => boolean;
}

export class ClusterAuditStopped extends Error {
  constructor() {
    super('audit stopped before it finished');
    this.name = 'ClusterAuditStopped';
  }
}

/**
 * The audit of what runs in a cluster: namespaces and RuntimeClasses first, then pods page by page, each page
 * judged with auditPod and dropped. A namespace created after the namespace list costs one GET. API errors
 * are thrown; the caller decides whether that is an exit code or a log line.
 */
export async function auditCluster(apis: AuditApis, options: ClusterAuditOptions): Promise<AuditSummary> {
  const pageSize = options.pageSize;
  const scope = {
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(pageSize !== undefined ? { pageSize } : {}),
  };
  const namespaceLabels = await listNamespaceLabels(apis.core, scope);
  const runtimeClasses = await listRuntimeClassFacts(apis.node, scope);
  const facts: AuditFacts = { policy: options.policy, namespaceLabels, runtimeClasses };
  const tally = createAuditTally();
  for await (const page of listActivePodPages(apis.core, scope)) {
    for (const name of new Set(page.map((pod) => pod.metadata?.namespace ?? ''))) {
      if (name === '' || namespaceLabels.has(name)) continue;
      // Judging without the labels could miss a namespace policy; a vanished namespace has none left.
      namespaceLabels.set(name, (await readNamespaceLabels(apis.core, name)) ?? {});
    }
    for (const pod of page) {
      // client-node's V1Pod is a typed view of the JSON the webhook decides on (fields newer than the client are dropped).
      const entry = auditPod(pod, facts);
      tally.count(entry);
      if (entry) options.onEntry?.(entry);
    }
    if (options.stopRequested?.()) throw new ClusterAuditStopped();
  }
  return tally.summary();
}
