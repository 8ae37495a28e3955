import type { Counter, Gauge } from 'prom-client';
import type { CaBundlePublisher, PublishReport } from './ca-bundle-publisher.ts';
import type { CertificateSecretStore, SecretSnapshot } from './certificate-secret-store.ts';
import { inspectCertificates, type CertificateFacts, type CertificateMaterial } from './certificate-state.ts';
import { defaultRotationPolicy, planRotation, type RotationPlan, type RotationPolicy } from './rotation-plan.ts';
import {
  applyRotationStep,
  buildRecoveryMaterial,
  type IssuancePolicy,
  type RotationStep,
  type ServedCertificates,
} from './rotation-steps.ts';
import { createSwappableTlsSource, type SwappableTlsSource, type TlsSource } from './tls-source.ts';

/**
 * Self-managed certificates: every replica runs the same reconcile loop against one Secret.
 *   read the Secret (create it if absent; the loser of a create race adopts the winner's)
 *   -> serve its certificate (hot swap, no restart) -> publish its CA bundle into the webhook configurations
 *   -> plan (rotation-plan.ts) -> write at most one step per round with the Secret's resourceVersion;
 *      a 409 means another replica wrote first: adopt its Secret and plan again.
 * Clock and intervals are injected, so tests drive rotation by calling reconcile() with a moved clock.
 */

export type CertificateLog = {
  debug(data: object, message: string): void;
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
};

export type CertificateMetrics = {
  servingCertificateExpiry: Gauge;
  certificateAuthorityExpiry?: Gauge;
  certificateRotations?: Counter<'step'>;
};

export type CertificateIntervals = {
  /** How often each replica reads the Secret (adopts, plans, rotates). 0: never by itself, call reconcile(). */
  pollMs: number;
  /** How often the webhook configurations' caBundle is re-checked and repaired when nothing else changed. */
  caBundleCheckMs: number;
};

export const defaultCertificateIntervals: CertificateIntervals = { pollMs: 30_000, caBundleCheckMs: 60_000 };

export type SelfManagedCertificatesOptions = {
  store: CertificateSecretStore;
  publisher: CaBundlePublisher;
  issuance: IssuancePolicy;
  log: CertificateLog;
  metrics?: CertificateMetrics;
  now?: () => Date;
  rotation?: Partial<RotationPolicy>;
  intervals?: Partial<CertificateIntervals>;
};

export type ReconcileReport = {
  /** The last plan: `keep` or `wait` unless the round limit was reached. */
  plan: RotationPlan;
  /** Steps this replica wrote in this reconcile, in order. */
  written: Array<RotationStep['kind']>;
  /** The bundle in the Secret is in every webhook configuration, as last checked. */
  published: boolean;
};

export type SelfManagedCertificates = {
  /** The serving certificate of the Secret; give it to the HTTPS server. */
  tls: TlsSource;
  /** One pass of the loop now (serialised with the timer's). */
  reconcile(): Promise<ReconcileReport>;
  close(): void;
};

// create -> keep, drop -> keep, rotate-ca -> wait: no plan needs more than a few writes in a row.
const maxRounds = 4;

const stepMessages: Record<RotationStep['kind'], string> = {
  create: 'certificates created',
  'rotate-ca': 'certificate authority rotation started: new CA added to the bundle',
  'issue-serving': 'serving certificate issued',
  'drop-cas': 'certificate authorities dropped from the bundle',
};

/** Find or create the certificates, serve them, publish the CA, and keep them renewed. */
export async function startSelfManagedCertificates(options: SelfManagedCertificatesOptions): Promise<SelfManagedCertificates> {
  const { store, publisher, issuance, log, metrics } = options;
  const clock = options.now ?? (() => new Date());
  const policy: RotationPolicy = { ...defaultRotationPolicy, ...options.rotation };
  const intervals: CertificateIntervals = { ...defaultCertificateIntervals, ...options.intervals };
  const secret = { secret: `${store.namespace}/${store.name}` };
  if (intervals.pollMs > 0 && policy.settleMs < 2 * intervals.pollMs) {
    log.warn(
      { settleMs: policy.settleMs, pollMs: intervals.pollMs },
      'certificate settle time is shorter than two Secret polls; a replica may serve an untrusted certificate during CA rotation',
    );
  }

  let source: SwappableTlsSource | undefined;
  // What this replica serves and trusts, to rebuild the Secret around it if the Secret disappears or breaks.
  let served: (ServedCertificates & { notAfter: Date }) | undefined;
  let lastPublish: LastPublish | undefined;
  let lastWait: string | undefined;

  const adopt = (snapshot: SecretSnapshot | undefined, facts: CertificateFacts): void => {
    if (snapshot === undefined || facts.kind !== 'present' || facts.serving.kind !== 'usable') return;
    const material = { cert: snapshot.material.certPem ?? '', key: snapshot.material.keyPem ?? '' };
    served = {
      caBundlePem: facts.bundle.map((ca) => ca.pem).join(''),
      certPem: material.cert,
      keyPem: material.key,
      notAfter: facts.serving.notAfter,
    };
    metrics?.servingCertificateExpiry.set(facts.serving.notAfter.getTime() / 1000);
    metrics?.certificateAuthorityExpiry?.set(facts.signer.notAfter.getTime() / 1000);
    if (source === undefined) source = createSwappableTlsSource(material);
    else if (source.current().cert !== material.cert || source.current().key !== material.key) source.set(material);
    else return;
    log.info(
      { ...secret, fingerprint: facts.serving.fingerprint, issuer: facts.serving.issuerFingerprint, notAfter: facts.serving.notAfter },
      'serving certificate adopted from the Secret',
    );
  };

  const publish = async (facts: CertificateFacts, now: Date, force: boolean): Promise<boolean> => {
    if (facts.kind !== 'present') return false;
    const bundlePem = facts.bundle.map((ca) => ca.pem).join('');
    if (!force && !isPublishDue(lastPublish, bundlePem, now, intervals.caBundleCheckMs)) return lastPublish?.published ?? false;
    let report: PublishReport;
    try {
      report = await publisher.publish(bundlePem);
    } catch (error) {
      log.error({ err: error }, 'caBundle publication failed');
      report = { configurations: [], published: false };
    }
    lastPublish = { bundlePem, at: now.getTime(), published: report.published };
    return report.published;
  };

  const reconcileOnce = async (): Promise<ReconcileReport> => {
    const now = clock();
    const written: Array<RotationStep['kind']> = [];
    let snapshot = await store.read();
    let plan: RotationPlan = { kind: 'keep', nextAt: now };
    let published = false;
    for (let round = 0; round < maxRounds; round++) {
      const facts = inspectCertificates(snapshot?.material, issuance, snapshot?.changedAt);
      adopt(snapshot, facts);
      published = await publish(facts, now, false);
      plan = planRotation(facts, { now, bundlePublished: published, policy });
      if (plan.kind === 'issue-serving' && plan.reason === 'ca-rotation') {
        // The one step that relies on the API server trusting the new CA: check that again right before it.
        published = await publish(facts, now, true);
        plan = planRotation(facts, { now, bundlePublished: published, policy });
      }
      if (plan.kind === 'keep' || plan.kind === 'wait') break;
      // A Secret that vanished or broke under running replicas: rebuild it around what they serve and trust.
      const recover =
        plan.kind === 'create' && plan.reason !== 'ca-expired' && served !== undefined && served.notAfter.getTime() > now.getTime();
      if (recover)
        log.warn({ ...secret, reason: plan.reason }, 'certificate Secret lost; recreating it around the certificate being served');
      else if (plan.kind === 'create' && snapshot !== undefined)
        log.warn({ ...secret, reason: plan.reason }, 'certificate Secret unusable; replacing CA and serving certificate');
      const material =
        recover && served !== undefined
          ? buildRecoveryMaterial(served, now, issuance)
          : applyRotationStep(plan, facts, snapshot?.material, now, issuance);
      const outcome = await writeSecret(store, snapshot, material, now);
      if (outcome.kind !== 'written') {
        log.info(
          { ...secret, step: plan.kind },
          outcome.kind === 'created-elsewhere'
            ? 'certificate Secret created by another replica; adopting it'
            : 'certificate Secret changed by another replica; adopting it',
        );
        snapshot = outcome.snapshot;
        continue;
      }
      snapshot = outcome.snapshot;
      written.push(plan.kind);
      metrics?.certificateRotations?.inc({ step: plan.kind });
      log.info({ ...secret, step: plan.kind, reason: plan.reason, resourceVersion: snapshot.resourceVersion }, stepMessages[plan.kind]);
    }
    reportWait(plan);
    return { plan, written, published };
  };

  const reportWait = (plan: RotationPlan): void => {
    const key = plan.kind === 'wait' ? `${plan.reason}:${plan.until?.toISOString() ?? ''}` : undefined;
    if (key !== undefined && key !== lastWait && plan.kind === 'wait') {
      log.info({ ...secret, reason: plan.reason, until: plan.until }, 'certificate rotation waiting');
    }
    lastWait = key;
  };

  let queue: Promise<unknown> = Promise.resolve();
  const reconcile = (): Promise<ReconcileReport> => {
    const run = queue.then(reconcileOnce);
    queue = run.catch(() => undefined);
    return run;
  };

  await reconcile();
  if (source === undefined) throw new Error(`secret ${secret.secret} holds no usable serving certificate`);
  const tlsSource = source;

  const loop = startPollLoop(reconcile, intervals.pollMs, (error) =>
    log.error({ ...secret, err: error }, 'certificate reconcile failed; retrying at the next poll'),
  );
  return { tls: { current: () => tlsSource.current() }, reconcile, close: loop.close };
}

/** The last caBundle publication this replica attempted. */
export type LastPublish = { bundlePem: string; at: number; published: boolean };

/**
 * Publish the bundle again when it changed, the last attempt failed, the check interval has passed, or the clock
 * went backwards; otherwise the webhook configurations were just checked and are left alone.
 */
export function isPublishDue(last: LastPublish | undefined, bundlePem: string, now: Date, checkMs: number): boolean {
  if (last === undefined || last.bundlePem !== bundlePem || !last.published) return true;
  const elapsed = now.getTime() - last.at;
  return elapsed >= checkMs || elapsed < 0;
}

type WriteOutcome =
  | { kind: 'written'; snapshot: SecretSnapshot }
  | { kind: 'created-elsewhere' | 'changed-elsewhere'; snapshot: SecretSnapshot | undefined };

/** Create the Secret or update it at the snapshot's resourceVersion; losing a race hands back the winner's Secret. */
async function writeSecret(
  store: CertificateSecretStore,
  snapshot: SecretSnapshot | undefined,
  material: CertificateMaterial,
  now: Date,
): Promise<WriteOutcome> {
  if (snapshot === undefined) {
    const outcome = await store.create(material, now);
    return { kind: outcome.kind === 'adopted' ? 'created-elsewhere' : 'written', snapshot: outcome.snapshot };
  }
  const outcome = await store.update(snapshot, material, now);
  return outcome.kind === 'conflict'
    ? { kind: 'changed-elsewhere', snapshot: outcome.current }
    : { kind: 'written', snapshot: outcome.snapshot };
}

/** Run `run` every `pollMs` after the previous run settled (never overlapping); 0 means never. */
function startPollLoop(run: () => Promise<unknown>, pollMs: number, onError: (error: unknown) => void): { close(): void } {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (closed || pollMs <= 0) return;
    timer = setTimeout(() => {
      run().then(schedule, (error: unknown) => {
        onError(error);
        schedule();
      });
    }, pollMs);
    timer.unref();
  };
  schedule();
  return {
    close: () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
