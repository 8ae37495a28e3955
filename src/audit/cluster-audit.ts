import type { Policy } from '../policy/types.ts';
import { auditPod, createAuditTally, type AuditEntry, type AuditFacts, type AuditSummary } from './audit-pods.ts';
import { listActivePodPages, listNamespaceLabels, listRuntimeClassFacts, readNamespaceLabels } from './list-cluster-state.ts';
import type { KubeApiClient } from '../kube/api-client.ts';

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
export async function auditCluster(client: KubeApiClient, options: ClusterAuditOptions): Promise<AuditSummary> {
  const pageSize = options.pageSize;
  const scope = {
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(pageSize !== undefined ? { pageSize } : {}),
  };
  const namespaceLabels = await listNamespaceLabels(client, scope);
  const runtimeClasses = await listRuntimeClassFacts(client, scope);
  const facts: AuditFacts = { policy: options.policy, namespaceLabels, runtimeClasses };
  const tally = createAuditTally();
  for await (const page of listActivePodPages(client, scope)) {
    for (const name of new Set(page.map((pod) => pod.metadata?.namespace ?? ''))) {
      if (name === '' || namespaceLabels.has(name)) continue;
      // Judging without the labels could miss a namespace policy; a vanished namespace has none left.
      namespaceLabels.set(name, (await readNamespaceLabels(client, name)) ?? {});
    }
    for (const pod of page) {
      // The pod's JSON as the API server sent it, as the webhook decides on it.
      const entry = auditPod(pod, facts);
      tally.count(entry);
      if (entry) options.onEntry?.(entry);
    }
    if (options.stopRequested?.()) throw new ClusterAuditStopped();
  }
  return tally.summary();
}
