import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Metrics } from '../observe/metrics.ts';
import { createCaBundlePublisher, type WebhookConfigurationRef } from '../tls/ca-bundle-publisher.ts';
import { describeCertificate } from '../tls/certificates.ts';
import { createCertificateSecretStore } from '../tls/certificate-secret-store.ts';
import { buildServiceDnsNames } from '../tls/certificate-state.ts';
import { createFileTlsSource } from '../tls/file-tls-source.ts';
import { ensureDevCertificates } from '../tls/dev-certificates.ts';
import { defaultCaValidityDays, defaultServingValidityDays } from '../tls/rotation-steps.ts';
import { startSelfManagedCertificates } from '../tls/self-managed-certificates.ts';
import type { TlsSource } from '../tls/tls-source.ts';
import { DEV_CERTS_DIR } from './paths.ts';
import type { ServeOptions } from './serve-command.ts';

// Where `serve` gets its serving certificate: dev files in certs/, mounted files (cert-manager), or a Secret it
// manages itself. Each returns a hot-swappable TLS source for the server.

export type CertificateMode = 'dev' | 'files' | 'self-managed';

export const certificateModes: readonly CertificateMode[] = ['self-managed', 'files', 'dev'];

/**
 * Where the serving certificate comes from. An explicit --certificates wins; otherwise --dev means the local
 * certs/ flow, certificate files mean files (cert-manager or any mounted Secret), and a cluster connection
 * means self-managed, the in-cluster default.
 */
export function resolveCertificateMode(options: Pick<ServeOptions, 'certificates' | 'dev' | 'tlsCertFile' | 'tlsKeyFile' | 'cluster' | 'kubeconfig'>): CertificateMode {
  const hasFiles = options.tlsCertFile !== undefined || options.tlsKeyFile !== undefined;
  if (options.certificates !== undefined) {
    if (!(certificateModes as readonly string[]).includes(options.certificates)) {
      throw new Error(`--certificates must be one of ${certificateModes.join(', ')}, got "${options.certificates}"`);
    }
    const mode = options.certificates as CertificateMode;
    if (mode === 'self-managed' && hasFiles) throw new Error('--certificates self-managed takes its certificates from the Secret; drop --tls-cert-file/--tls-key-file');
    return mode;
  }
  if (options.dev) return 'dev';
  if (hasFiles) return 'files';
  if (options.cluster || options.kubeconfig !== undefined) return 'self-managed';
  throw new Error('no serving certificate: use --cluster/--kubeconfig (self-managed certificates), --tls-cert-file and --tls-key-file, or --dev');
}

export type RunningCertificates = { tls: TlsSource; close(): void };

/** --dev (certs/, created when missing) or --tls-cert-file/--tls-key-file: files re-read when they change. */
export async function startFileCertificates(options: ServeOptions, mode: CertificateMode, logger: Logger, metrics: Metrics): Promise<RunningCertificates> {
  let certFile = options.tlsCertFile;
  let keyFile = options.tlsKeyFile;
  if (mode === 'dev') {
    const certs = await ensureDevCertificates({ dir: DEV_CERTS_DIR, serviceName: options.serviceName, namespace: options.webhookNamespace, now: new Date(), log: logger });
    certFile ??= certs.paths.cert;
    keyFile ??= certs.paths.key;
  }
  if (!certFile || !keyFile) throw new Error('--tls-cert-file and --tls-key-file are required (or --dev for local certificates in certs/)');
  const source = createFileTlsSource({ certFile, keyFile }, {
    onChange: (material) => {
      logger.info({ certFile }, 'serving certificate reloaded');
      try {
        metrics.servingCertificateExpiry.set(describeCertificate(material.cert).notAfter.getTime() / 1000);
      } catch {
        // A half-written file: the server keeps its previous certificate, and so does the gauge.
      }
    },
  });
  logger.info({ mode, certFile, keyFile }, 'serving certificate from files');
  return { tls: source, close: () => source.close() };
}

/** Self-managed: CA and serving certificate in a Secret, CA published into the webhook configurations, renewed. */
export async function startClusterCertificates(options: ServeOptions, kubeConfig: KubeConfig, logger: Logger, metrics: Metrics): Promise<RunningCertificates> {
  const log = logger.child({ component: 'certificates' });
  const configurations: WebhookConfigurationRef[] = [{ kind: 'MutatingWebhookConfiguration', name: options.mutatingWebhookConfiguration }];
  if (options.validatingWebhookConfiguration !== '') configurations.push({ kind: 'ValidatingWebhookConfiguration', name: options.validatingWebhookConfiguration });
  const namespace = options.webhookNamespace;
  log.info({ mode: 'self-managed', secret: options.tlsSecret, namespace, configurations: configurations.map((c) => `${c.kind}/${c.name}`) }, 'serving certificate from the cluster');
  const certificates = await startSelfManagedCertificates({
    store: createCertificateSecretStore({
      client: kubeConfig.makeApiClient(CoreV1Api),
      namespace,
      name: options.tlsSecret,
      labels: { 'app.kubernetes.io/name': 'sandbox-admission', 'app.kubernetes.io/component': 'webhook-certificates' },
    }),
    publisher: createCaBundlePublisher({
      client: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
      configurations,
      log,
      onResult: (ref, result) => metrics.caBundlePublications.inc({ kind: ref.kind, result }),
    }),
    issuance: {
      caName: `${options.serviceName}-ca`,
      commonName: `${options.serviceName}.${namespace}.svc`,
      dnsNames: buildServiceDnsNames(options.serviceName, namespace),
      ipAddresses: [],
      caValidityDays: defaultCaValidityDays,
      servingValidityDays: defaultServingValidityDays,
    },
    log,
    metrics,
  });
  return { tls: certificates.tls, close: () => certificates.close() };
}
