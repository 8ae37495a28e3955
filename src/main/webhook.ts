import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildReviewHandler, type ReviewFacts } from '../admission/review-handler.ts';
import type { ClientAuth } from '../admission/client-auth.ts';
import type { LoadLimits } from '../admission/load-shedding.ts';
import { startMetricsServer, type MetricsServer } from '../admission/metrics-server.ts';
import { buildServer, closeGracefully, listen, type AdmissionServer } from '../admission/server.ts';
import { createAdmissionPolicyDriftCheck, type GeneratedPolicy } from '../cluster/admission-policy-drift-check.ts';
import { createAdmissionPolicyReconciler, type ManagedPolicyKind } from '../cluster/admission-policy-reconciler.ts';
import type { LeaderElector } from '../cluster/leader-election.ts';
import type { ObjectWriter } from '../cluster/server-side-apply.ts';
import { buildMutatingAdmissionPolicies } from '../admission-policies/mutating-admission-policy.ts';
import { buildValidatingAdmissionPolicies } from '../admission-policies/validating-admission-policy.ts';
import { startRuntimeClassMonitor } from '../cluster/runtime-class-monitor.ts';
import { formatCodedError, type CodedError } from '../errors.ts';
import type { Metrics } from '../observe/metrics.ts';
import { recordPolicyInfo, recordPolicyReload } from '../observe/metrics.ts';
import { createFilePolicyStore } from '../policy/file-store.ts';
import type { PolicyStore, ReloadingPolicyStore } from '../policy/policy-store.ts';
import type { PolicyDocument } from '../policy/types.ts';
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
  /** Also serve GET /metrics alone on this port (HTTPS, the same certificate), for Prometheus. */
  metricsPort?: number;
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
  /**
   * Cluster mode: the periodic audit of running pods, given the policy store. With a leader elector it runs on the
   * leader only: made and started when this replica starts leading, stopped when it stops.
   */
  createAudit?: (policy: PolicyStore) => BackgroundLoop;
  /** The policy from elsewhere than config.policyPath (a SandboxPolicy object), loaded already; the webhook closes it. */
  policyStore?: ReloadingPolicyStore;
  /**
   * CRD source: the SandboxPolicy status writer, given the drift check's finding; reconciled after every policy
   * change and every drift check.
   */
  createPolicyStatus?: (stale: () => readonly string[]) => { reconcile(): Promise<void> };
  /** Cluster mode: one writer among the replicas (cluster/leader-election.ts), started here, released at shutdown. */
  leader?: LeaderElector;
  /**
   * With a leader: keep these kinds of generated admission policies in the cluster in line with the policy in force
   * (--manage-admission-policies), checked on every policy change, on becoming leader and every intervalMs.
   */
  admissionPolicySync?: { kinds: ReadonlySet<ManagedPolicyKind>; writer: ObjectWriter; intervalMs: number };
}

export interface RunningWebhook {
  address: AddressInfo;
  /** Where GET /metrics is served alone, with --metrics-port. */
  metricsAddress?: AddressInfo;
  server: AdmissionServer;
  policy: ReloadingPolicyStore;
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

  let status: { reconcile(): Promise<void> } | undefined;
  const leader = deps.leader;
  const sync = leader && deps.admissionPolicySync && deps.admissionPolicySync.kinds.size > 0 ? deps.admissionPolicySync : undefined;
  const drift = deps.generatedPolicies
    ? createAdmissionPolicyDriftCheck({
        list: deps.generatedPolicies.list,
        expectedDigest: policy.policyDigest,
        setStale: (value) => metrics.admissionPolicyStale.set(value),
        log: logger.child({ component: 'admission-policy-check' }),
        intervalMs: deps.generatedPolicies.intervalMs,
        onChecked: () => void status?.reconcile(),
        // Stale until repaired, and no longer than that: the leader repairs within moments of a change.
        ...(sync ? { recheckWhileStaleMs: 1000 } : {}),
      })
    : undefined;
  status = deps.createPolicyStatus?.(() => drift?.stale() ?? []);
  const reconciler =
    sync && leader
      ? createAdmissionPolicyReconciler({
          kinds: sync.kinds,
          // The same document the webhook decides from, rendered as `render vap` (`--after-map` next to the
          // MutatingAdmissionPolicy) and `render map` print it.
          desired: () => renderManagedPolicies(policy.document(), sync.kinds, config.webhookNamespace),
          writer: sync.writer,
          isLeader: leader.isLeader,
          log: logger.child({ component: 'admission-policy-sync' }),
          intervalMs: sync.intervalMs,
          onWrite: (kind, action) => metrics.admissionPolicyWrites.inc({ kind, action }),
          onReconciled: (result) => {
            if (result.changes.length > 0) void drift?.check();
          },
        })
      : undefined;
  policy.onReload((event) => {
    // A new policy is Ready only once the drift check has compared the generated policies with it.
    if (event.result !== 'success') {
      void status?.reconcile();
      return;
    }
    if (drift) void drift.check();
    else void status?.reconcile();
    void reconciler?.reconcile();
  });

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
  const metricsServer: MetricsServer | undefined =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer({ host: config.host, port: config.metricsPort, registry: metrics.registry, tls: deps.tls, log: logger });
  logger.info(
    {
      host: address.address,
      port: address.port,
      policy: deps.policyStore ? 'SandboxPolicy' : config.policyPath,
      rules: policy.current().rules.length,
    },
    'sandbox-admission listening',
  );
  if (metricsServer) logger.info({ host: metricsServer.address.address, port: metricsServer.address.port }, 'metrics listening');
  drift?.start();
  void status?.reconcile();
  reconciler?.start();
  const leaderLoops = startLeaderLoops(policy, deps, () => void reconciler?.reconcile());
  return {
    address,
    ...(metricsServer ? { metricsAddress: metricsServer.address } : {}),
    server,
    policy,
    shutdown: async () => {
      draining = true;
      classMonitor.stop();
      await closeGracefully(server, config.drainDelayMs);
      // Scraped until the end, so the last counts of a draining replica are not lost.
      await metricsServer?.close();
      drift?.stop();
      await reconciler?.stop();
      // Every writer stops before the Lease is released, so the next leader never overlaps with one of ours.
      await leaderLoops.stop();
      policy.close();
    },
  };
}

/** The generated admission policies of the managed kinds, from one policy document. */
function renderManagedPolicies(document: PolicyDocument, kinds: ReadonlySet<ManagedPolicyKind>, webhookNamespace: string) {
  return [
    // Next to the mutation, the validating policies refuse with its reasons (render vap --after-map).
    ...(kinds.has('validating')
      ? buildValidatingAdmissionPolicies(document, { webhookNamespace, afterMutation: kinds.has('mutating') })
      : []),
    ...(kinds.has('mutating') ? buildMutatingAdmissionPolicies(document, { webhookNamespace }) : []),
  ];
}

/**
 * The audit, on the leader only when there is a leader elector (every replica would otherwise scan and write the
 * same reports), and the election itself: a new leader reconciles at once instead of at its next interval.
 */
function startLeaderLoops(
  policy: PolicyStore,
  deps: Pick<WebhookDeps, 'createAudit' | 'leader' | 'metrics'>,
  onLeading: () => void,
): { stop(): Promise<void> } {
  const leader = deps.leader;
  if (!leader) {
    const audit = deps.createAudit?.(policy);
    audit?.start();
    return { stop: async () => audit?.stop() };
  }
  let audit: BackgroundLoop | undefined;
  let stopping: Promise<void> = Promise.resolve();
  let shuttingDown = false;
  leader.onChange((leading) => {
    deps.metrics.leader.set(leading ? 1 : 0);
    if (leading) {
      onLeading();
      // A previous term's audit finishes stopping first: two scans of ours never write at once.
      void stopping.then(() => {
        if (shuttingDown || !leader.isLeader() || audit) return;
        audit = deps.createAudit?.(policy);
        audit?.start();
      });
    } else if (audit) {
      const ending = audit;
      audit = undefined;
      stopping = Promise.resolve(ending.stop());
    }
  });
  deps.metrics.leader.set(0);
  leader.start();
  return {
    stop: async () => {
      shuttingDown = true;
      const ending = audit;
      audit = undefined;
      await ending?.stop();
      await stopping;
      await leader.stop();
    },
  };
}

/** The policy in force (the file, or the store handed in), every reload counted and logged, a refusal also reported. */
function createPolicyStore(
  config: WebhookConfig,
  deps: Pick<WebhookDeps, 'logger' | 'metrics' | 'reportPolicyRefusal' | 'policyStore'>,
): ReloadingPolicyStore {
  const { logger, metrics } = deps;
  const policy = deps.policyStore ?? createFilePolicyStore({ path: config.policyPath, webhookNamespace: config.webhookNamespace });
  policy.onReload((event) => {
    if (event.result === 'unchanged') return;
    recordPolicyReload(metrics, event.result, new Date());
    const generation = event.generation === undefined ? {} : { generation: event.generation };
    if (event.result === 'success') {
      recordPolicyInfo(metrics, { name: policy.current().name, digest: policy.policyDigest(), rules: policy.current().rules.length });
      logger.info({ path: event.path, ...generation, policy: policy.current().name, digest: policy.policyDigest() }, 'policy reloaded');
    } else {
      logger.error(
        { path: event.path, ...generation, errors: event.errors?.map(formatCodedError) },
        'policy refused; the last good policy stays in force',
      );
      deps
        .reportPolicyRefusal?.(event.errors ?? [])
        .catch((error: unknown) => logger.warn({ err: error }, 'could not record the policy refusal event'));
    }
  });
  recordPolicyReload(metrics, 'success', new Date());
  recordPolicyInfo(metrics, { name: policy.current().name, digest: policy.policyDigest(), rules: policy.current().rules.length });
  return policy;
}
