import { relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createAuditScanner } from '../audit/audit-scanner.ts';
import { createAdmissionPolicyCheck, listGeneratedPolicies } from '../cluster/admission-policy-check.ts';
import { createClusterFacts, type ClusterFacts } from '../cluster/cluster-facts.ts';
import { createPolicyEventRecorder } from '../cluster/policy-events.ts';
import { createLogger } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { startWebhook } from '../webhook.ts';
import { parseNamespaceLabels } from './namespace-labels.ts';
import { resolveCertificateMode, startClusterCertificates, startFileCertificates } from './serve-certificates.ts';
import { DEV_CERTS_DIR, EXAMPLE_REVIEW_PATH } from './paths.ts';

export interface ServeOptions {
  dev: boolean;
  host?: string;
  port: string;
  policy: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  webhookNamespace: string;
  serviceName: string;
  namespaceLabels: string[];
  cluster: boolean;
  kubeconfig?: string;
  /** dev | files | self-managed; when absent, resolveCertificateMode picks one. */
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
}

/** Run the webhook until SIGTERM/SIGINT, then drain and exit. */
export async function runServe(options: ServeOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel });
  const metrics = createMetrics();
  const mode = resolveCertificateMode(options);
  const useCluster = options.cluster || options.kubeconfig !== undefined;
  // Self-managed certificates need the API even without --cluster (then from KUBECONFIG or in-cluster config).
  const kubeConfig = useCluster || mode === 'self-managed' ? loadKubeConfig(options.kubeconfig) : undefined;
  const certificates = kubeConfig !== undefined && mode === 'self-managed'
    ? await startClusterCertificates(options, kubeConfig, logger, metrics)
    : await startFileCertificates(options, mode, logger, metrics);
  const tls = certificates.tls;
  const cluster = useCluster && kubeConfig !== undefined ? createClusterFacts(kubeConfig, logger) : undefined;
  // Start the caches before listening; /readyz stays false until both have synced.
  await cluster?.start();
  const host = options.host ?? (options.dev ? '127.0.0.1' : '0.0.0.0');
  // Started once the webhook (and so its policy store) exists; a reload before that is covered by the first check.
  const admissionPolicyCheck = cluster && kubeConfig
    ? createAdmissionPolicyCheck({
        list: listGeneratedPolicies(kubeConfig),
        expectedDigest: () => webhook.policy.policyDigest(),
        setStale: (value) => metrics.admissionPolicyStale.set(value),
        log: logger.child({ component: 'admission-policy-check' }),
        intervalMs: parseDuration(options.admissionPolicyCheckInterval),
      })
    : undefined;
  let admissionPolicyCheckStarted = false;
  const webhook = await startWebhook(
    { host, port: parsePort(options.port), policyPath: options.policy, webhookNamespace: options.webhookNamespace, drainDelayMs: parseDuration(options.drainDelay) },
    {
      logger,
      metrics,
      tls,
      cluster: cluster ?? staticFacts(options.namespaceLabels),
      ...(cluster ? { readiness: cluster.readiness } : {}),
      ...(admissionPolicyCheck
        ? { admissionPolicyCheck: { stale: admissionPolicyCheck.stale, check: async () => (admissionPolicyCheckStarted ? admissionPolicyCheck.check() : undefined) } }
        : {}),
      ...(cluster && kubeConfig
        ? {
            reportPolicyRefusal: createPolicyEventRecorder(kubeConfig, {
              namespace: options.webhookNamespace,
              configMapName: options.policyConfigmap,
              reportingInstance: process.env.POD_NAME ?? 'sandbox-admission',
            }),
          }
        : {}),
    },
  );
  admissionPolicyCheckStarted = true;
  admissionPolicyCheck?.start();
  const auditIntervalMs = parseDuration(options.auditInterval);
  const audit = cluster && kubeConfig && auditIntervalMs > 0
    ? createAuditScanner({ kubeConfig, policy: () => webhook.policy.current(), metrics, log: logger.child({ component: 'audit' }), intervalMs: auditIntervalMs })
    : undefined;
  audit?.start();
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
        admissionPolicyCheck?.stop();
        await audit?.stop();
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

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  // KUBECONFIG, ~/.kube/config or the in-cluster service account, as kubectl would.
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${value}"`);
  return port;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5m`, `5s`, `500ms`, `0` (a bare number is seconds) -> milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new Error(`expected a duration such as 5m, 5s or 500ms, got "${value}"`);
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000);
}
