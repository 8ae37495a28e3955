import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClientAuth } from '../admission/client-auth.ts';
import { hostname } from 'node:os';
import { createAuditScanner, DEFAULT_AUDIT_INITIAL_DELAY_MS } from '../audit/audit-scanner.ts';
import { createPolicyReportPublisher } from '../audit/policy-report-publisher.ts';
import { buildPolicyReports } from '../audit/policy-reports.ts';
import { parseManagedPolicyKinds } from '../cluster/admission-policy-reconciler.ts';
import { createLeaderElector, type LeaderElector } from '../cluster/leader-election.ts';
import { createKubernetesLeaseStore } from '../cluster/lease-store.ts';
import { createObjectWriter } from '../cluster/server-side-apply.ts';
import { parseNamespaceLabels } from './namespace-labels.ts';
import { DEV_CERTS_DIR, EXAMPLE_REVIEW_PATH, readPackageVersion } from './paths.ts';
import { listGeneratedPolicies } from '../cluster/admission-policy-drift-check.ts';
import { createClusterFacts, type ClusterFacts } from '../cluster/cluster-facts.ts';
import { createNamespaceWeakeningAuthorizer } from '../cluster/namespace-weakening-authorizer.ts';
import { createPolicyEventRecorder } from '../cluster/policy-events.ts';
import { createLogger } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { soleLeader, type Leadership } from '../cluster/leadership.ts';
import { createClusterObjectEventRecorder } from '../cluster/policy-events.ts';
import { createCrdPolicyStore, type CrdPolicyStore } from '../cluster/sandbox-policy-store.ts';
import { createSandboxPolicyStatusWriter, writeSandboxPolicyStatus } from '../cluster/sandbox-policy-status.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import { SANDBOX_POLICY_GROUP, SANDBOX_POLICY_KIND, SANDBOX_POLICY_VERSION } from '../policy/sandbox-policy-crd.ts';
import { resolveCertificateMode, startCertificateSource } from '../tls/certificate-source.ts';
import { startWebhook } from './webhook.ts';

export interface ServeOptions {
  dev: boolean;
  host?: string;
  port: string;
  /** GET /metrics alone on this port too (HTTPS); unset: /metrics only on the admission port. */
  metricsPort?: string;
  policy: string;
  /** file: the --policy file; crd: the SandboxPolicy `policyName` from the API. */
  policySource: 'file' | 'crd';
  policyName: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  webhookNamespace: string;
  serviceName: string;
  namespaceLabels: string[];
  cluster: boolean;
  kubeconfig?: string;
  /** dev | files | self-managed; when absent, resolveCertificateMode (tls/certificate-source.ts) picks one. */
  certificates?: string;
  tlsSecret: string;
  mutatingWebhookConfiguration: string;
  /** Empty: there is none to publish the CA to. */
  validatingWebhookConfiguration: string;
  logLevel: string;
  drainDelay: string;
  /** The ConfigMap the policy file is mounted from, for PolicyRejected events. */
  policyConfigmap: string;
  /** How often the background audit scans running pods; 0 turns it off. */
  auditInterval: string;
  /** How often to compare the generated ValidatingAdmissionPolicies with the policy in force (cluster mode). */
  admissionPolicyCheckInterval: string;
  /** Admission requests read or answered at once; more are refused with 429. */
  maxInFlight: string;
  /** MiB of large review bodies (over 128 KiB) read or answered at once; more are refused with 429. */
  maxInFlightLargeMib: string;
  /** Client certificate authentication of the API server: CA bundle file, and the names allowed (comma-separated). */
  clientCaFile?: string;
  clientAllowedNames: string;
  /** Which generated admission policies the leader keeps in sync: none, validating, mutating (repeatable, comma-separated). */
  manageAdmissionPolicies: string[];
  /** The audit writes its findings as PolicyReports (wgpolicyk8s.io/v1alpha2), on the leader. */
  policyReports: boolean;
  /** The Lease (in the webhook namespace) the replicas elect their one writer with. */
  leaderElectionLease: string;
  /** This replica's name in the Lease; default POD_NAME, else hostname and pid. */
  leaderElectionIdentity?: string;
  leaderElectionLeaseDuration: string;
  leaderElectionRenewDeadline: string;
  leaderElectionRetryPeriod: string;
}

/**
 * The composition root: options -> logger, metrics -> serving certificate -> cluster facts -> the webhook (policy
 * store, drift check, server, audit: main/webhook.ts) -> signals and shutdown. Runs until SIGTERM/SIGINT.
 */
export async function runServe(options: ServeOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel });
  try {
    // One writer among the replicas: the Lease election takes this place once it is wired; alone, we lead.
    await startServing(options, logger, soleLeader);
  } catch (error) {
    // Whatever start-up left running (informers, file watchers, the policy poll, certificate loops) would keep the
    // process alive, listening on nothing: exit so that the kubelet restarts the container, and the reason is the
    // last line of the previous container's log (kubectl logs --previous; CrashLoopBackOff in kubectl get pods).
    const code = (error as { code?: unknown }).code;
    logger.fatal({ err: error, ...(typeof code === 'string' ? { code } : {}) }, 'start-up failed; exiting');
    process.exit(1);
  }
}

async function startServing(options: ServeOptions, logger: Logger, leadership: Leadership): Promise<void> {
  const metrics = createMetrics({ version: readPackageVersion() });
  const mode = resolveCertificateMode(options);
  const useCluster = options.cluster || options.kubeconfig !== undefined;
  // Self-managed certificates need the API even without --cluster (then from KUBECONFIG or in-cluster config).
  const kubeConfig = useCluster || mode === 'self-managed' ? loadKubeConfig(options.kubeconfig) : undefined;
  const certificates = await startCertificateSource({ ...options, devCertsDir: DEV_CERTS_DIR }, { mode, kubeConfig, logger, metrics });
  const clusterConfig = useCluster ? kubeConfig : undefined;
  const cluster = clusterConfig ? createClusterFacts(clusterConfig, logger) : undefined;
  // Start the caches before listening; /readyz stays false until both have synced.
  await cluster?.start();
  const crdPolicy = options.policySource === 'crd' ? await startCrdPolicy(options, clusterConfig, logger) : undefined;
  const host = options.host ?? (options.dev ? '127.0.0.1' : '0.0.0.0');
  const auditIntervalMs = parseDuration(options.auditInterval);
  const managedKinds = parseManagedPolicyKinds(options.manageAdmissionPolicies);
  if (managedKinds.size > 0 && !clusterConfig) throw new Error('--manage-admission-policies needs --cluster or --kubeconfig');
  const leader = clusterConfig ? createLeader(clusterConfig, options, logger) : undefined;
  const writer = clusterConfig ? createObjectWriter(clusterConfig) : undefined;
  const publishReports =
    options.policyReports && writer && leader
      ? createPolicyReportPublisher({
          writer,
          isLeader: leader.isLeader,
          log: logger.child({ component: 'policy-reports' }),
          onWrite: (action) => metrics.policyReportWrites.inc({ action }),
        })
      : undefined;
  const webhook = await startWebhook(
    {
      host,
      port: parsePort(options.port),
      ...(options.metricsPort === undefined ? {} : { metricsPort: parsePort(options.metricsPort, '--metrics-port') }),
      policyPath: options.policy,
      webhookNamespace: options.webhookNamespace,
      drainDelayMs: parseDuration(options.drainDelay),
      loadLimits: parseLoadLimits(options),
      ...readClientAuth(options),
    },
    {
      logger,
      metrics,
      tls: certificates,
      cluster:
        cluster && clusterConfig
          ? {
              ...cluster,
              mayWeakenNamespace: createNamespaceWeakeningAuthorizer(clusterConfig, logger.child({ component: 'namespace-guard' })),
            }
          : staticFacts(options.namespaceLabels),
      ...(cluster && clusterConfig
        ? {
            readiness: crdPolicy ? withSandboxPolicy(cluster.readiness, crdPolicy) : cluster.readiness,
            generatedPolicies: {
              list: listGeneratedPolicies(clusterConfig),
              intervalMs: parseDuration(options.admissionPolicyCheckInterval),
            },
            ...(leader ? { leader } : {}),
            ...(writer && managedKinds.size > 0
              ? { admissionPolicySync: { kinds: managedKinds, writer, intervalMs: parseDuration(options.admissionPolicyCheckInterval) } }
              : {}),
            ...(crdPolicy
              ? {
                  policyStore: crdPolicy,
                  createPolicyStatus: (stale: () => readonly string[]) => {
                    const recordEvent = createClusterObjectEventRecorder(clusterConfig, process.env.POD_NAME ?? 'sandbox-admission');
                    const writer = createSandboxPolicyStatusWriter({
                      store: crdPolicy,
                      stale,
                      leadership: leader ?? leadership,
                      writeStatus: writeSandboxPolicyStatus(clusterConfig),
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
                  reportPolicyRefusal: createPolicyEventRecorder(clusterConfig, {
                    namespace: options.webhookNamespace,
                    configMapName: options.policyConfigmap,
                    reportingInstance: process.env.POD_NAME ?? 'sandbox-admission',
                  }),
                }),
            ...(auditIntervalMs > 0
              ? {
                  createAudit: (policy: PolicyStore) =>
                    createAuditScanner({
                      kubeConfig: clusterConfig,
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
          }
        : {}),
    },
  );
  if (options.dev) {
    const display = host.includes(':') ? `[${host}]` : host;
    const rel = (p: string) => relative(process.cwd(), p) || p;
    process.stdout.write(
      `sandbox-admission is ready. Send it a review: curl --cacert ${rel(`${DEV_CERTS_DIR}/ca.crt`)} -H 'Content-Type: application/json' --data @${rel(EXAMPLE_REVIEW_PATH)} https://${display}:${webhook.address.port}/mutate\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    webhook.shutdown().then(
      async () => {
        certificates.close();
        await cluster?.stop();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** --policy-source=crd: the SandboxPolicy from the API, loaded before the server listens (none valid: exit). */
async function startCrdPolicy(options: ServeOptions, kubeConfig: KubeConfig | undefined, logger: Logger): Promise<CrdPolicyStore> {
  if (!kubeConfig) throw new Error('--policy-source=crd reads the SandboxPolicy from the API: add --cluster or --kubeconfig');
  const store = createCrdPolicyStore({
    kubeConfig,
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
function createLeader(kubeConfig: KubeConfig, options: ServeOptions, logger: Logger): LeaderElector {
  return createLeaderElector({
    store: createKubernetesLeaseStore(kubeConfig, { namespace: options.webhookNamespace, name: options.leaderElectionLease }),
    identity: options.leaderElectionIdentity || process.env.POD_NAME || `${hostname()}_${process.pid}`,
    timing: {
      leaseDurationMs: parseDuration(options.leaderElectionLeaseDuration),
      renewDeadlineMs: parseDuration(options.leaderElectionRenewDeadline),
      retryPeriodMs: parseDuration(options.leaderElectionRetryPeriod),
    },
    log: logger.child({ component: 'leader-election' }),
  });
}

/** Without a cluster, namespaces carry only the labels given on the command line, and RuntimeClasses are unknown. */
function staticFacts(entries: string[]): Pick<ClusterFacts, 'namespaceLabels'> & { runtimeClasses: () => undefined } {
  const labels = parseNamespaceLabels(entries);
  return { namespaceLabels: (name) => labels.get(name) ?? {}, runtimeClasses: () => undefined };
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  // KUBECONFIG, ~/.kube/config or the in-cluster service account, as kubectl would.
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

function readClientAuth(options: Pick<ServeOptions, 'clientCaFile' | 'clientAllowedNames'>): { clientAuth?: ClientAuth } {
  if (options.clientCaFile === undefined) return {};
  const allowedNames = options.clientAllowedNames
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return { clientAuth: { caPem: readFileSync(options.clientCaFile, 'utf8'), allowedNames } };
}

function parseLoadLimits(options: Pick<ServeOptions, 'maxInFlight' | 'maxInFlightLargeMib'>): {
  maxRequests: number;
  maxLargeBodyBytes: number;
} {
  const positive = (flag: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
    return n;
  };
  return {
    maxRequests: positive('--max-in-flight', options.maxInFlight),
    maxLargeBodyBytes: positive('--max-in-flight-large-mib', options.maxInFlightLargeMib) * 1024 * 1024,
  };
}

function parsePort(value: string, flag = '--port'): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag} must be a port number, got "${value}"`);
  return port;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5m`, `5s`, `500ms`, `0` (a bare number is seconds) -> milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new Error(`expected a duration such as 5m, 5s or 500ms, got "${value}"`);
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000);
}
