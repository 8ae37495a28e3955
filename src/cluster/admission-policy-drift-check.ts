/**
 * Do the ValidatingAdmissionPolicies (and the MutatingAdmissionPolicy of the native flavour) in the cluster still
 * carry the policy the webhook serves? They stand in for the webhook during an outage, or instead of it, and an
 * in-place edit of the policy ConfigMap reaches the webhook but not them.
 * Finds the generated policies by the generator's labels and compares their policy-digest annotation with the
 * digest of the policy in force. None in the cluster is no finding (the base flavour ships none).
 */
import { createCoalescedRun } from '../util/coalesced-run.ts';

export interface GeneratedPolicy {
  name: string;
  /** The policy-digest annotation, absent on policies rendered before it existed. */
  digest: string | undefined;
}

export interface AdmissionPolicyDriftCheckLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface AdmissionPolicyDriftCheckOptions {
  list: () => Promise<GeneratedPolicy[]>;
  /** The digest of the policy the webhook serves right now. */
  expectedDigest: () => string;
  /** 1 while some generated policy is stale, else 0. */
  setStale: (value: 0 | 1) => void;
  log: AdmissionPolicyDriftCheckLog;
  intervalMs: number;
  /** After every check that could list the generated policies (the SandboxPolicy Ready condition reads stale()). */
  onChecked?: () => void;
  /**
   * Where a leader repairs them (admission-policy-reconciler.ts), check again this soon while some are stale, so
   * every replica stops reporting them soon after the repair, not an interval later.
   */
  recheckWhileStaleMs?: number;
}

export interface AdmissionPolicyDriftCheck {
  /** Names of the generated policies whose digest differs from the policy in force (last successful check). */
  stale(): readonly string[];
  /** Check now (also after each policy reload); never rejects. */
  check(): Promise<void>;
  start(): void;
  stop(): void;
}

export function createAdmissionPolicyDriftCheck(options: AdmissionPolicyDriftCheckOptions): AdmissionPolicyDriftCheck {
  let stale: string[] = [];
  let known = false;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let active = false;

  const once = async (): Promise<void> => {
    let policies: GeneratedPolicy[];
    try {
      policies = await options.list();
    } catch (error) {
      // Unknown, not stale: keep the last finding and say so once per distinct error.
      const message = describeError(error);
      if (message !== lastError)
        options.log.warn({ error: message }, 'could not list the ValidatingAdmissionPolicies; whether they match the policy is unknown');
      lastError = message;
      return;
    }
    lastError = undefined;
    const expected = options.expectedDigest();
    const next = policies
      .filter((p) => p.digest !== expected)
      .map((p) => p.name)
      .sort();
    options.setStale(next.length > 0 ? 1 : 0);
    if (next.length > 0 && options.recheckWhileStaleMs !== undefined && active && !recheck) {
      recheck = setTimeout(() => {
        recheck = undefined;
        void check();
      }, options.recheckWhileStaleMs);
      recheck.unref();
    }
    if (known && next.join('\n') === stale.join('\n')) {
      options.onChecked?.();
      return;
    }
    known = true;
    if (next.length > 0) {
      options.log.warn(
        {
          stale: next,
          expectedDigest: expected,
          found: Object.fromEntries(policies.filter((p) => next.includes(p.name)).map((p) => [p.name, p.digest ?? null])),
        },
        options.recheckWhileStaleMs !== undefined
          ? 'ValidatingAdmissionPolicies were generated from another policy than the one in force; the leader replica brings them in line'
          : 'ValidatingAdmissionPolicies were generated from another policy than the one in force; render and apply them again',
      );
    } else if (policies.length > 0) {
      options.log.info({ policies: policies.map((p) => p.name) }, 'the ValidatingAdmissionPolicies match the policy in force');
    }
    stale = next;
    options.onChecked?.();
  };

  const check = createCoalescedRun(() => once().catch(() => undefined));

  return {
    stale: () => stale,
    check,
    start: () => {
      if (timer) return;
      active = true;
      void check();
      timer = setInterval(() => void check(), options.intervalMs);
      timer.unref();
    },
    stop: () => {
      active = false;
      clearInterval(timer);
      clearTimeout(recheck);
      timer = undefined;
      recheck = undefined;
    },
  };
}

function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  return typeof e?.code === 'number' ? `HTTP ${e.code}: ${String(e.message ?? '').split('\n')[0]}` : String(e?.message ?? error);
}
