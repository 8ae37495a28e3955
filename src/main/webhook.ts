import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildReviewHandler, type ReviewFacts } from '../admission/review-handler.ts';
import type { ClientAuth } from '../admission/client-auth.ts';
import type { LoadLimits } from '../admission/load-shedding.ts';
import { buildServer, closeGracefully, listen, type AdmissionServer } from '../admission/server.ts';
import { createAdmissionPolicyDriftCheck, type GeneratedPolicy } from '../cluster/admission-policy-drift-check.ts';
import { startRuntimeClassMonitor } from '../cluster/runtime-class-monitor.ts';
import { formatCodedError, type CodedError } from '../errors.ts';
import type { Metrics } from '../observe/metrics.ts';
import { recordPolicyReload } from '../observe/metrics.ts';
import { createFilePolicyStore, type FilePolicyStore, type PolicyStore } from '../policy/file-store.ts';
import { certificateNotAfter } from '../tls/certificate-expiry.ts';
import type { CertificateSource } from '../tls/certificate-source.ts';

export interface WebhookConfig {
  host: string;
  port: number;
  policyPath: string;
  webhookNamespace: string;
  /** How long to keep serving after SIGTERM so the API server stops sending before we close. */
  drainDelayMs: number;
  bodyLimitBytes?: number;
  /** Admission work taken on at once (admission/load-shedding.ts); the rest is shed with 429/503. */
  loadLimits?: Partial<LoadLimits>;
  /** Admission routes answer only callers with a client certificate from this CA. */
  clientAuth?: ClientAuth;
}

/** A background loop that reads the policy in force (the audit of running pods). */
export interface BackgroundLoop {
  start(): void;
  stop(): Promise<void> | void;
}

export interface WebhookDeps {
  logger: Logger;
  metrics: Metrics;
  /** The serving certificate; its healthy() is part of readiness. */
  tls: Pick<CertificateSource, 'current' | 'healthy'>;
  /** Namespace labels and runtime classes: a static map locally, informer caches in a cluster. */
  cluster: Pick<ReviewFacts, 'namespaceLabels' | 'runtimeClasses' | 'mayWeakenNamespace'>;
  /** Extra readiness conditions (cache sync); the webhook adds its own. */
  readiness?: () => { ready: boolean; detail?: Record<string, unknown> };
  /** Tell the cluster a policy was refused (a Kubernetes Event); failures are logged, never fatal. */
  reportPolicyRefusal?: (errors: CodedError[]) => Promise<void>;
  /** How often to re-check that every profile's RuntimeClass exists and is a sandbox. */
  runtimeClassCheckIntervalMs?: number;
  /** Cluster mode: the generated ValidatingAdmissionPolicies, compared with the policy in force (drift check). */
  generatedPolicies?: { list: () => Promise<GeneratedPolicy[]>; intervalMs: number };
  /** Cluster mode: the periodic audit of running pods, given the policy store. */
  createAudit?: (policy: PolicyStore) => BackgroundLoop;
}

export interface RunningWebhook {
  address: AddressInfo;
  server: AdmissionServer;
  policy: FilePolicyStore;
  /** Stop taking work (readiness false), drain, close, stop the background loops. */
  shutdown(): Promise<void>;
}

/**
 * Everything that reads the policy, wired in one place: the policy store first, then the drift check, the
 * RuntimeClass monitor, the review handler and HTTPS server, and the audit, each handed the same store.
 */
export async function startWebhook(config: WebhookConfig, deps: WebhookDeps): Promise<RunningWebhook> {
  const { logger, metrics } = deps;
  const policy = createPolicyStore(config, deps);
  metrics.servingCertificateExpiry.set(certificateNotAfter(deps.tls.current().cert).getTime() / 1000);

  const drift = deps.generatedPolicies
    ? createAdmissionPolicyDriftCheck({
        list: deps.generatedPolicies.list,
        expectedDigest: policy.policyDigest,
        setStale: (value) => metrics.admissionPolicyStale.set(value),
        log: logger.child({ component: 'admission-policy-check' }),
        intervalMs: deps.generatedPolicies.intervalMs,
      })
    : undefined;
  if (drift) {
    policy.onReload((event) => {
      if (event.result === 'success') void drift.check();
    });
  }

  const classMonitor = startRuntimeClassMonitor({
    policy: policy.current,
    runtimeClasses: deps.cluster.runtimeClasses,
    intervalMs: deps.runtimeClassCheckIntervalMs ?? 10_000,
    onChange: (problems) => {
      metrics.profileRuntimeClassProblems.reset();
      for (const p of problems)
        metrics.profileRuntimeClassProblems.set({ profile: p.profile, runtime_class: p.runtimeClassName, problem: p.problem }, 1);
      if (problems.length > 0) logger.warn({ problems }, 'runtime profiles the cluster cannot honour; their pods will be refused');
      else logger.info({}, 'every runtime profile has a sandbox RuntimeClass');
    },
  });

  let draining = false;
  const server = buildServer({
    logger,
    metrics,
    handleReview: buildReviewHandler({ policy: policy.current, ...deps.cluster }),
    tls: deps.tls,
    ...(config.bodyLimitBytes ? { bodyLimitBytes: config.bodyLimitBytes } : {}),
    ...(config.loadLimits ? { loadLimits: config.loadLimits } : {}),
    ...(config.clientAuth ? { clientAuth: config.clientAuth } : {}),
    readiness: () => {
      const extra = deps.readiness?.() ?? { ready: true };
      const certificateHealthy = deps.tls.healthy();
      const runtimeClassProblems = classMonitor.problems();
      const admissionPolicyStale = drift?.stale() ?? [];
      // Problems are reported, not made a reason to stop serving: an unready webhook would block every pod.
      return {
        ready: !draining && extra.ready && certificateHealthy,
        detail: {
          policy: policy.current().name,
          draining,
          servingCertificateHealthy: certificateHealthy,
          ...extra.detail,
          ...(runtimeClassProblems.length > 0 ? { runtimeClassProblems } : {}),
          ...(admissionPolicyStale.length > 0 ? { admissionPolicyStale: [...admissionPolicyStale] } : {}),
        },
      };
    },
  });
  const address = await listen(server, { host: config.host, port: config.port });
  logger.info(
    { host: address.address, port: address.port, policy: config.policyPath, rules: policy.current().rules.length },
    'sandbox-admission listening',
  );
  drift?.start();
  const audit = deps.createAudit?.(policy);
  audit?.start();
  return {
    address,
    server,
    policy,
    shutdown: async () => {
      draining = true;
      classMonitor.stop();
      await closeGracefully(server, config.drainDelayMs);
      drift?.stop();
      await audit?.stop();
      policy.close();
    },
  };
}

/** The policy file in force, every reload counted and logged, a refusal also reported to the cluster. */
function createPolicyStore(config: WebhookConfig, deps: Pick<WebhookDeps, 'logger' | 'metrics' | 'reportPolicyRefusal'>): FilePolicyStore {
  const { logger, metrics } = deps;
  const policy = createFilePolicyStore({ path: config.policyPath, webhookNamespace: config.webhookNamespace });
  policy.onReload((event) => {
    if (event.result === 'unchanged') return;
    recordPolicyReload(metrics, event.result, new Date());
    if (event.result === 'success') {
      logger.info({ path: event.path, policy: policy.current().name }, 'policy reloaded');
    } else {
      logger.error(
        { path: event.path, errors: event.errors?.map(formatCodedError) },
        'policy refused; the last good policy stays in force',
      );
      deps
        .reportPolicyRefusal?.(event.errors ?? [])
        .catch((error: unknown) => logger.warn({ err: error }, 'could not record the policy refusal event'));
    }
  });
  recordPolicyReload(metrics, 'success', new Date());
  return policy;
}
