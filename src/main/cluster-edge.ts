import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createAuditScanner } from '../audit/audit-scanner.ts';
import { createClusterFacts } from '../cluster/cluster-facts.ts';
import { listGeneratedPolicies } from '../cluster/generated-policies.ts';
import { createNamespaceWeakeningAuthorizer } from '../cluster/namespace-weakening-authorizer.ts';
import { createPolicyEventRecorder } from '../cluster/policy-events.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { PolicyStore } from '../policy/file-store.ts';
import type { WebhookDeps } from './webhook.ts';

/**
 * Everything the webhook reads from or writes to the cluster, wired from one KubeConfig. serve.ts imports this
 * module only in cluster mode (or for self-managed certificates): @kubernetes/client-node is the largest thing
 * the process loads (about 900 modules, 85 MiB of RSS and most of a second of CPU at start), and a webhook
 * serving from files with --namespace-labels never needs it.
 */

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  // KUBECONFIG, ~/.kube/config or the in-cluster service account, as kubectl would.
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export interface ClusterEdgeOptions {
  webhookNamespace: string;
  policyConfigmap: string;
  auditIntervalMs: number;
  admissionPolicyCheckIntervalMs: number;
}

export type ClusterDeps = Required<Pick<WebhookDeps, 'cluster' | 'readiness' | 'generatedPolicies' | 'reportPolicyRefusal'>> &
  Pick<WebhookDeps, 'createAudit'>;

export interface ConnectedCluster {
  deps: ClusterDeps;
  stop(): Promise<void>;
}

/** Start the informer caches (resolves once both have synced) and build the webhook's cluster-side deps. */
export async function connectCluster(
  kubeConfig: KubeConfig,
  options: ClusterEdgeOptions,
  logger: Logger,
  metrics: Metrics,
): Promise<ConnectedCluster> {
  const cluster = createClusterFacts(kubeConfig, logger);
  // Start the caches before listening; /readyz stays false until both have synced.
  await cluster.start();
  const { auditIntervalMs } = options;
  return {
    stop: () => cluster.stop(),
    deps: {
      cluster: {
        ...cluster,
        mayWeakenNamespace: createNamespaceWeakeningAuthorizer(kubeConfig, logger.child({ component: 'namespace-guard' })),
      },
      readiness: cluster.readiness,
      generatedPolicies: { list: listGeneratedPolicies(kubeConfig), intervalMs: options.admissionPolicyCheckIntervalMs },
      reportPolicyRefusal: createPolicyEventRecorder(kubeConfig, {
        namespace: options.webhookNamespace,
        configMapName: options.policyConfigmap,
        reportingInstance: process.env.POD_NAME ?? 'sandbox-admission',
      }),
      ...(auditIntervalMs > 0
        ? {
            createAudit: (policy: PolicyStore) =>
              createAuditScanner({
                kubeConfig,
                policy: policy.current,
                metrics,
                log: logger.child({ component: 'audit' }),
                intervalMs: auditIntervalMs,
              }),
          }
        : {}),
    },
  };
}
