import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeApiClient } from '../kube/api-client.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { WebhookConfigurationRef } from './ca-bundle-publisher.ts';
import { createFileTlsSource } from './file-tls-source.ts';
import type { TlsMaterial, TlsSource } from './tls-source.ts';

// Where the server gets its serving certificate: dev files in certs/, mounted files (cert-manager), or a Secret it
// manages itself. Each is one CertificateSource: hot-swappable material, healthy() for readiness, close().
// Only the files source is loaded with this module: dev certificates and the self-managed flow import
// certificate issuing (node-forge) and the Secret/webhook configuration writers when chosen, so serving from files loads neither.

export type CertificateMode = 'dev' | 'files' | 'self-managed';

export const certificateModes: readonly CertificateMode[] = ['self-managed', 'files', 'dev'];

/** The serving certificate, wherever it comes from (cert-manager's CertificateSource). */
export interface CertificateSource extends TlsSource {
  /** The certificate served now is valid at this moment (readiness reads it). */
  healthy(): boolean;
  close(): void;
}

export interface CertificateSourceOptions {
  /** dev | files | self-managed; when absent, resolveCertificateMode picks one. */
  certificates?: string;
  dev: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  cluster: boolean;
  kubeconfig?: string;
  webhookNamespace: string;
  serviceName: string;
  tlsSecret: string;
  mutatingWebhookConfiguration: string;
  /** Empty: there is none to publish the CA to. */
  validatingWebhookConfiguration: string;
  /** Where dev certificates are kept (created when missing). */
  devCertsDir: string;
}

/**
 * Where the serving certificate comes from. An explicit --certificates wins; otherwise --dev means the local
 * certs/ flow, certificate files mean files (cert-manager or any mounted Secret), and a cluster connection
 * means self-managed, the in-cluster default.
 */
export function resolveCertificateMode(
  options: Pick<CertificateSourceOptions, 'certificates' | 'dev' | 'tlsCertFile' | 'tlsKeyFile' | 'cluster' | 'kubeconfig'>,
): CertificateMode {
  const hasFiles = options.tlsCertFile !== undefined || options.tlsKeyFile !== undefined;
  if (options.certificates !== undefined) {
    if (!(certificateModes as readonly string[]).includes(options.certificates)) {
      throw new Error(`--certificates must be one of ${certificateModes.join(', ')}, got "${options.certificates}"`);
    }
    const mode = options.certificates as CertificateMode;
    if (mode === 'self-managed' && hasFiles)
      throw new Error('--certificates self-managed takes its certificates from the Secret; drop --tls-cert-file/--tls-key-file');
    return mode;
  }
  if (options.dev) return 'dev';
  if (hasFiles) return 'files';
  if (options.cluster || options.kubeconfig !== undefined) return 'self-managed';
  throw new Error(
    'no serving certificate: use --cluster/--kubeconfig (self-managed certificates), --tls-cert-file and --tls-key-file, or --dev',
  );
}

/** Choose the source (resolveCertificateMode) and start it; self-managed needs the cluster's client. */
export async function startCertificateSource(
  options: CertificateSourceOptions,
  context: { mode: CertificateMode; client: KubeApiClient | undefined; logger: Logger; metrics: Metrics; now?: () => Date },
): Promise<CertificateSource> {
  const { mode, client, logger, metrics } = context;
  const now = context.now ?? (() => new Date());
  const started =
    client !== undefined && mode === 'self-managed'
      ? await startClusterCertificates(options, client, logger, metrics)
      : await startFileCertificates(options, mode, logger);
  return { current: started.current, healthy: () => isCertificateValid(started.current(), now()), close: started.close };
}

type StartedSource = TlsSource & { close(): void };

/** --dev (certs/, created when missing) or --tls-cert-file/--tls-key-file: files re-read when they change. */
async function startFileCertificates(options: CertificateSourceOptions, mode: CertificateMode, logger: Logger): Promise<StartedSource> {
  let certFile = options.tlsCertFile;
  let keyFile = options.tlsKeyFile;
  if (mode === 'dev') {
    const { ensureDevCertificates } = await import('./dev-certificates.ts');
    const certs = await ensureDevCertificates({
      dir: options.devCertsDir,
      serviceName: options.serviceName,
      namespace: options.webhookNamespace,
      now: new Date(),
      log: logger,
    });
    certFile ??= certs.paths.cert;
    keyFile ??= certs.paths.key;
  }
  if (!certFile || !keyFile) throw new Error('--tls-cert-file and --tls-key-file are required (or --dev for local certificates in certs/)');
  const source = createFileTlsSource(
    { certFile, keyFile },
    {
      // No expiry gauge here: whoever writes these files (cert-manager) renews them and alerts on its own.
      onChange: () => logger.info({ certFile }, 'serving certificate reloaded'),
    },
  );
  logger.info({ mode, certFile, keyFile }, 'serving certificate from files');
  return source;
}

/** Self-managed: CA and serving certificate in a Secret, CA published into the webhook configurations, renewed. */
async function startClusterCertificates(
  options: CertificateSourceOptions,
  client: KubeApiClient,
  logger: Logger,
  metrics: Metrics,
): Promise<StartedSource> {
  const [
    { createCaBundlePublisher },
    { createCertificateSecretStore },
    { buildServiceDnsNames },
    rotation,
    { startSelfManagedCertificates },
  ] = await Promise.all([
    import('./ca-bundle-publisher.ts'),
    import('./certificate-secret-store.ts'),
    import('./certificate-state.ts'),
    import('./rotation-steps.ts'),
    import('./self-managed-certificates.ts'),
  ]);
  const log = logger.child({ component: 'certificates' });
  const configurations: WebhookConfigurationRef[] = [{ kind: 'MutatingWebhookConfiguration', name: options.mutatingWebhookConfiguration }];
  if (options.validatingWebhookConfiguration !== '')
    configurations.push({ kind: 'ValidatingWebhookConfiguration', name: options.validatingWebhookConfiguration });
  const namespace = options.webhookNamespace;
  log.info(
    { mode: 'self-managed', secret: options.tlsSecret, namespace, configurations: configurations.map((c) => `${c.kind}/${c.name}`) },
    'serving certificate from the cluster',
  );
  const certificates = await startSelfManagedCertificates({
    store: createCertificateSecretStore({
      client,
      namespace,
      name: options.tlsSecret,
      labels: { 'app.kubernetes.io/name': 'sandbox-admission', 'app.kubernetes.io/component': 'webhook-certificates' },
    }),
    publisher: createCaBundlePublisher({
      client,
      configurations,
      log,
      onResult: (ref, result) => metrics.caBundlePublications.inc({ kind: ref.kind, result }),
    }),
    issuance: {
      caName: `${options.serviceName}-ca`,
      commonName: `${options.serviceName}.${namespace}.svc`,
      dnsNames: buildServiceDnsNames(options.serviceName, namespace),
      ipAddresses: [],
      caValidityDays: rotation.defaultCaValidityDays,
      servingValidityDays: rotation.defaultServingValidityDays,
    },
    log,
    metrics,
  });
  return { current: certificates.tls.current, close: () => certificates.close() };
}

const validity = new WeakMap<TlsMaterial, { notBefore: number; notAfter: number } | undefined>();

/** The certificate parses and `now` lies in its validity period; parsed once per material. */
export function isCertificateValid(material: TlsMaterial, now: Date): boolean {
  if (!validity.has(material)) {
    try {
      const cert = new X509Certificate(material.cert);
      validity.set(material, { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) });
    } catch {
      validity.set(material, undefined);
    }
  }
  const period = validity.get(material);
  return period !== undefined && period.notBefore <= now.getTime() && now.getTime() <= period.notAfter;
}
