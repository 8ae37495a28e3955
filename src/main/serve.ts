import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Logger } from 'pino';
import type { ClientAuth } from '../admission/client-auth.ts';
import type { ClusterFacts } from '../cluster/cluster-facts.ts';
import { createLogger } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { resolveCertificateMode, startCertificateSource } from '../tls/certificate-source.ts';
import { parseDuration } from './duration.ts';
import { parseNamespaceLabels } from './namespace-labels.ts';
import { DEV_CERTS_DIR, EXAMPLE_REVIEW_PATH, readPackageVersion } from './paths.ts';
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
    await startServing(options, logger);
  } catch (error) {
    // Whatever start-up left running (informers, file watchers, the policy poll, certificate loops) would keep the
    // process alive, listening on nothing: exit so that the kubelet restarts the container, and the reason is the
    // last line of the previous container's log (kubectl logs --previous; CrashLoopBackOff in kubectl get pods).
    const code = (error as { code?: unknown }).code;
    logger.fatal({ err: error, ...(typeof code === 'string' ? { code } : {}) }, 'start-up failed; exiting');
    process.exit(1);
  }
}

async function startServing(options: ServeOptions, logger: Logger): Promise<void> {
  const metrics = createMetrics({ version: readPackageVersion() });
  const mode = resolveCertificateMode(options);
  const useCluster = options.cluster || options.kubeconfig !== undefined;
  if (!useCluster && options.policySource === 'crd')
    throw new Error('--policy-source=crd reads the SandboxPolicy from the API: add --cluster or --kubeconfig');
  if (!useCluster && options.manageAdmissionPolicies.some((k) => k !== 'none'))
    throw new Error('--manage-admission-policies needs --cluster or --kubeconfig');
  // Self-managed certificates need the API even without --cluster (then from KUBECONFIG or in-cluster config).
  // The cluster edge is loaded only then.
  const edge = useCluster || mode === 'self-managed' ? await import('./cluster-edge.ts') : undefined;
  const client = edge ? await edge.createKubeApiClient(options.kubeconfig) : undefined;
  const certificates = await startCertificateSource({ ...options, devCertsDir: DEV_CERTS_DIR }, { mode, client, logger, metrics });
  const cluster = edge && client && useCluster ? await edge.connectCluster(client, options, logger, metrics) : undefined;
  const host = options.host ?? (options.dev ? '127.0.0.1' : '0.0.0.0');
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
    { logger, metrics, tls: certificates, ...(cluster ? cluster.deps : { cluster: staticFacts(options.namespaceLabels) }) },
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

/** Without a cluster, namespaces carry only the labels given on the command line, and RuntimeClasses are unknown. */
function staticFacts(entries: string[]): Pick<ClusterFacts, 'namespaceLabels'> & { runtimeClasses: () => undefined } {
  const labels = parseNamespaceLabels(entries);
  return { namespaceLabels: (name) => labels.get(name) ?? {}, runtimeClasses: () => undefined };
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
