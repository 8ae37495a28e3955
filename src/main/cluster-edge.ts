import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createAuditScanner, DEFAULT_AUDIT_INITIAL_DELAY_MS } from '../audit/audit-scanner.ts';
import { createPolicyReportPublisher } from '../audit/policy-report-publisher.ts';
import { buildPolicyReports } from '../audit/policy-reports.ts';
import { listGeneratedPolicies } from '../cluster/generated-policies.ts';
import { parseManagedPolicyKinds } from '../cluster/admission-policy-reconciler.ts';
import { createClusterFacts, type ClusterFacts } from '../cluster/cluster-facts.ts';
import { createLeaderElector, type LeaderElector } from '../cluster/leader-election.ts';
import { createKubernetesLeaseStore } from '../cluster/lease-store.ts';
import { createNamespaceWeakeningAuthorizer } from '../cluster/namespace-weakening-authorizer.ts';
import { createClusterObjectEventRecorder, createPolicyEventRecorder } from '../cluster/policy-events.ts';
import { createCrdPolicyStore, type CrdPolicyStore } from '../cluster/sandbox-policy-store.ts';
import { createSandboxPolicyStatusWriter, writeSandboxPolicyStatus } from '../cluster/sandbox-policy-status.ts';
import { createObjectWriter } from '../cluster/server-side-apply.ts';
import type { KubeApiClient } from '../kube/api-client.ts';
import { connectKubeApi } from './connect-kube-api.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import { SANDBOX_POLICY_GROUP, SANDBOX_POLICY_KIND, SANDBOX_POLICY_VERSION } from '../policy/sandbox-policy-crd.ts';
import { parseDuration } from './duration.ts';
import type { ServeOptions } from './serve.ts';
import type { WebhookDeps } from './webhook.ts';

/**
 * Everything the webhook reads from or writes to the cluster, wired from one API client: the informer caches, the
 * SandboxPolicy source and status, the Lease election and what only the leader writes (generated admission
 * policies, PolicyReports), the audit. serve.ts imports this module only in cluster mode (or for self-managed
 * certificates). The client is the project's own (src/kube/), not @kubernetes/client-node: loading that costs
 * about 85 MiB of RSS and most of a second of CPU at start, more than the rest of the webhook.
 */

/** The API client of the serving process: the cluster connection found as kubectl finds it (kube/kube-config.ts). */
export function createKubeApiClient(kubeconfigPath: string | undefined): Promise<KubeApiClient> {
  return connectKubeApi(kubeconfigPath ? { path: kubeconfigPath } : {});
}

export interface ConnectedCluster {
  deps: Omit<WebhookDeps, 'logger' | 'metrics' | 'tls'>;
  stop(): Promise<void>;
}

/** Start the informer caches (resolves once both have synced, and the SandboxPolicy is loaded) and build the webhook's cluster-side deps. */
export async function connectCluster(
  client: KubeApiClient,
  options: ServeOptions,
  logger: Logger,
  metrics: Metrics,
): Promise<ConnectedCluster> {
  const cluster = createClusterFacts(client, logger);
  // Start the caches before listening; /readyz stays false until both have synced.
  await cluster.start();
  const crdPolicy = options.policySource === 'crd' ? await startCrdPolicy(options, client, logger) : undefined;
  const auditIntervalMs = parseDuration(options.auditInterval);
  const managedKinds = parseManagedPolicyKinds(options.manageAdmissionPolicies);
  const leader = createLeader(client, options, logger);
  const writer = createObjectWriter(client);
  const publishReports = options.policyReports
    ? createPolicyReportPublisher({
        writer,
        isLeader: leader.isLeader,
        log: logger.child({ component: 'policy-reports' }),
        onWrite: (action) => metrics.policyReportWrites.inc({ action }),
      })
    : undefined;
  return {
    stop: () => cluster.stop(),
    deps: {
      cluster: {
        ...cluster,
        mayWeakenNamespace: createNamespaceWeakeningAuthorizer(client, logger.child({ component: 'namespace-guard' })),
      },
      readiness: crdPolicy ? withSandboxPolicy(cluster.readiness, crdPolicy) : cluster.readiness,
      generatedPolicies: {
        list: listGeneratedPolicies(client),
        intervalMs: parseDuration(options.admissionPolicyCheckInterval),
      },
      leader,
      ...(managedKinds.size > 0
        ? { admissionPolicySync: { kinds: managedKinds, writer, intervalMs: parseDuration(options.admissionPolicyCheckInterval) } }
        : {}),
      ...(crdPolicy
        ? {
            policyStore: crdPolicy,
            createPolicyStatus: (stale: () => readonly string[]) => {
              const recordEvent = createClusterObjectEventRecorder(client, process.env.POD_NAME ?? 'sandbox-admission');
              const writer = createSandboxPolicyStatusWriter({
                store: crdPolicy,
                stale,
                leadership: leader,
                writeStatus: writeSandboxPolicyStatus(client),
                recordEvent: (object, event) =>
                  recordEvent(
                    {
                      apiVersion: `${SANDBOX_POLICY_GROUP}/${SANDBOX_POLICY_VERSION}`,
                      kind: SANDBOX_POLICY_KIND,
                      name: object.metadata?.name ?? '',
                      ...(object.metadata?.uid ? { uid: object.metadata.uid } : {}),
                    },
                    event,
                  ),
                log: logger.child({ component: 'sandbox-policy-status' }),
              });
              crdPolicy.onObjectsChange(() => void writer.reconcile());
              return writer;
            },
          }
        : {
            reportPolicyRefusal: createPolicyEventRecorder(client, {
              namespace: options.webhookNamespace,
              configMapName: options.policyConfigmap,
              reportingInstance: process.env.POD_NAME ?? 'sandbox-admission',
            }),
          }),
      ...(auditIntervalMs > 0
        ? {
            createAudit: (policy: PolicyStore) =>
              createAuditScanner({
                client,
                policy: policy.current,
                metrics,
                log: logger.child({ component: 'audit' }),
                intervalMs: auditIntervalMs,
                initialDelayMs: Math.min(DEFAULT_AUDIT_INITIAL_DELAY_MS, auditIntervalMs),
                ...(publishReports
                  ? { onFindings: (findings, scanned) => publishReports(buildPolicyReports(findings, scanned.name)) }
                  : {}),
              }),
          }
        : {}),
    },
  };
}

/** --policy-source=crd: the SandboxPolicy from the API, loaded before the server listens (none valid: exit). */
async function startCrdPolicy(options: ServeOptions, client: KubeApiClient, logger: Logger): Promise<CrdPolicyStore> {
  const store = createCrdPolicyStore({
    client,
    webhookNamespace: options.webhookNamespace,
    name: options.policyName,
    log: logger.child({ component: 'sandbox-policy' }),
  });
  await store.start();
  return store;
}

/** /readyz detail in CRD mode: which SandboxPolicy generation is in force, and whether its watch runs. */
function withSandboxPolicy(readiness: ClusterFacts['readiness'], store: CrdPolicyStore): ClusterFacts['readiness'] {
  return () => {
    const base = readiness();
    const { name, generation, digest } = store.inForce();
    const refused = store.refusal();
    return {
      ...base,
      detail: {
        ...base.detail,
        sandboxPolicy: {
          name,
          generation,
          digest,
          watching: store.synced(),
          ...(refused ? { refusedGeneration: refused.generation } : {}),
        },
      },
    };
  };
}

/** The election of the one replica that writes (generated admission policies, PolicyReports). */
function createLeader(client: KubeApiClient, options: ServeOptions, logger: Logger): LeaderElector {
  return createLeaderElector({
    store: createKubernetesLeaseStore(client, { namespace: options.webhookNamespace, name: options.leaderElectionLease }),
    identity: options.leaderElectionIdentity || process.env.POD_NAME || `${hostname()}_${process.pid}`,
    timing: {
      leaseDurationMs: parseDuration(options.leaderElectionLeaseDuration),
      renewDeadlineMs: parseDuration(options.leaderElectionRenewDeadline),
      retryPeriodMs: parseDuration(options.leaderElectionRetryPeriod),
    },
    log: logger.child({ component: 'leader-election' }),
  });
}
