import { relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createClusterFacts, type ClusterFacts } from '../cluster/cluster-facts.ts';
import { createFileTlsSource } from '../tls/file-tls-source.ts';
import { ensureDevCertificates } from '../tls/dev-certificates.ts';
import { createLogger } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { startWebhook } from '../webhook.ts';
import { parseNamespaceLabels } from './namespace-labels.ts';
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
  logLevel: string;
  drainDelay: string;
}

/** Run the webhook until SIGTERM/SIGINT, then drain and exit. */
export async function runServe(options: ServeOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel });
  const metrics = createMetrics();
  let certFile = options.tlsCertFile;
  let keyFile = options.tlsKeyFile;
  if (options.dev) {
    const certs = await ensureDevCertificates({ dir: DEV_CERTS_DIR, serviceName: options.serviceName, namespace: options.webhookNamespace, now: new Date(), log: logger });
    certFile ??= certs.paths.cert;
    keyFile ??= certs.paths.key;
  }
  if (!certFile || !keyFile) throw new Error('--tls-cert-file and --tls-key-file are required (or --dev for local certificates in certs/)');
  const tls = createFileTlsSource({ certFile, keyFile }, {
    onChange: () => logger.info({ certFile }, 'serving certificate reloaded'),
  });
  const cluster = options.cluster || options.kubeconfig ? createClusterFacts(loadKubeConfig(options.kubeconfig), logger) : undefined;
  // Start the caches before listening; /readyz stays false until both have synced.
  await cluster?.start();
  const host = options.host ?? (options.dev ? '127.0.0.1' : '0.0.0.0');
  const webhook = await startWebhook(
    { host, port: parsePort(options.port), policyPath: options.policy, webhookNamespace: options.webhookNamespace, drainDelayMs: parseDuration(options.drainDelay) },
    {
      logger,
      metrics,
      tls,
      cluster: cluster ?? staticFacts(options.namespaceLabels),
      ...(cluster ? { readiness: cluster.readiness } : {}),
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
        tls.close();
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

/** `5s`, `500ms`, `0` -> milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s)?$/.exec(value.trim());
  if (!match) throw new Error(`expected a duration such as 5s or 500ms, got "${value}"`);
  return Number(match[1]) * (match[2] === 'ms' ? 1 : 1000);
}
