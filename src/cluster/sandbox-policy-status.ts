/**
 * The status of every SandboxPolicy, and an Event on each change of verdict, so that `kubectl get sandboxpolicies`
 * and `kubectl describe` say what the webhook made of them. Written only while this replica leads (the Lease
 * election hands in `leadership`); a new leader rewrites nothing that is already right, and sends an Event only
 * when it changes the Accepted condition, so a change of leader repeats no Event.
 */
import { formatCodedError } from '../errors.ts';
import { apiErrorCode, type KubeApiClient } from '../kube/api-client.ts';
import {
  SANDBOX_POLICY_GROUP as group,
  SANDBOX_POLICY_KIND,
  SANDBOX_POLICY_PLURAL as plural,
  SANDBOX_POLICY_VERSION as version,
} from '../policy/sandbox-policy-crd.ts';
import type { Leadership } from './leadership.ts';
import type { CrdPolicyStore, InForce, Refusal, SandboxPolicyObject } from './sandbox-policy-store.ts';
import { createCoalescedRun } from '../util/coalesced-run.ts';

export interface Condition {
  type: 'Accepted' | 'Ready';
  status: 'True' | 'False' | 'Unknown';
  observedGeneration: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface SandboxPolicyStatus {
  observedGeneration: number;
  digest?: string;
  rules?: number;
  mode?: string;
  conditions: Condition[];
}

export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface SandboxPolicyStatusOptions {
  store: Pick<CrdPolicyStore, 'name' | 'objects' | 'inForce' | 'refusal'>;
  /** Names of the generated admission policies that carry another digest (the drift check's stale()). */
  stale: () => readonly string[];
  leadership: Leadership;
  writeStatus: (object: SandboxPolicyObject, status: SandboxPolicyStatus) => Promise<void>;
  recordEvent: (object: SandboxPolicyObject, event: StatusEvent) => Promise<void>;
  log: { info(data: object, message: string): void; warn(data: object, message: string): void };
  now?: () => Date;
}

export interface SandboxPolicyStatusWriter {
  /** Bring every object's status up to date (only on the leader); never rejects. */
  reconcile(): Promise<void>;
}

type Verdict = Omit<SandboxPolicyStatus, 'conditions'> & { conditions: Array<Omit<Condition, 'lastTransitionTime'>> };

/** What the status of `object` should say, or undefined while the webhook has not checked its generation yet. */
export function desiredStatus(
  object: SandboxPolicyObject,
  inForceName: string,
  inForce: InForce,
  refusal: Refusal | undefined,
  stale: readonly string[],
): Verdict | undefined {
  const generation = object.metadata?.generation ?? 0;
  const name = object.metadata?.name ?? '';
  const condition = (type: Condition['type'], ok: boolean, reason: string, message: string) => ({
    type,
    status: ok ? ('True' as const) : ('False' as const),
    observedGeneration: generation,
    reason,
    message,
  });
  if (name !== inForceName) {
    const message = `not in force: sandbox-admission serves only the SandboxPolicy named "${inForceName}" (its --policy-name), and that one is in force (generation ${inForce.generation}, digest ${inForce.digest}); merge these rules into it or delete this object`;
    return {
      observedGeneration: generation,
      conditions: [condition('Accepted', false, 'NotInForce', message), condition('Ready', false, 'NotInForce', message)],
    };
  }
  const ofInForce = { digest: inForce.digest, rules: inForce.rules, mode: inForce.mode };
  const sameObject = object.metadata?.uid === undefined || object.metadata.uid === inForce.uid;
  if (refusal && refusal.generation === generation && refusal.uid === object.metadata?.uid) {
    const lastGood = sameObject
      ? `generation ${inForce.generation}, digest ${inForce.digest}`
      : `digest ${inForce.digest}, from an earlier object of this name`;
    const message = `generation ${generation} refused, the last good policy (${lastGood}) stays in force: ${refusal.errors.map(formatCodedError).join('; ')}`;
    return {
      observedGeneration: generation,
      ...ofInForce,
      conditions: [condition('Accepted', false, 'Invalid', message), condition('Ready', false, 'Invalid', message)],
    };
  }
  if (!sameObject || inForce.generation !== generation) return undefined;
  const accepted = condition('Accepted', true, 'Accepted', `generation ${generation} passed every check and is the policy in force`);
  const ready =
    stale.length > 0
      ? condition(
          'Ready',
          false,
          'AdmissionPoliciesStale',
          `in force in the webhook (digest ${inForce.digest}), but the generated admission policies ${stale.join(', ')} carry another policy`,
        )
      : condition(
          'Ready',
          true,
          'InForce',
          `in force in the webhook (digest ${inForce.digest}); every generated admission policy carries it`,
        );
  return { observedGeneration: generation, ...ofInForce, conditions: [accepted, ready] };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function createSandboxPolicyStatusWriter(options: SandboxPolicyStatusOptions): SandboxPolicyStatusWriter {
  const now = options.now ?? (() => new Date());

  const one = async (object: SandboxPolicyObject, inForce: InForce): Promise<void> => {
    const verdict = desiredStatus(object, options.store.name, inForce, options.store.refusal(), options.stale());
    if (!verdict) return;
    const current = (object.status ?? {}) as Partial<SandboxPolicyStatus>;
    const previous = new Map((current.conditions ?? []).map((c) => [c.type, c]));
    const at = now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    const conditions = verdict.conditions.map((c): Condition => {
      const before = previous.get(c.type);
      return { ...c, lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : at };
    });
    const status: SandboxPolicyStatus = { ...verdict, conditions };
    const strip = (s: Partial<SandboxPolicyStatus>) => ({
      ...s,
      conditions: (s.conditions ?? []).map(({ lastTransitionTime: _, ...rest }) => rest),
    });
    if (same(strip(current), strip(status))) return;
    await options.writeStatus(object, status);
    const acceptedBefore = previous.get('Accepted');
    const acceptedNow = verdict.conditions.find((c) => c.type === 'Accepted')!;
    const changed =
      !acceptedBefore ||
      acceptedBefore.status !== acceptedNow.status ||
      acceptedBefore.reason !== acceptedNow.reason ||
      acceptedBefore.observedGeneration !== acceptedNow.observedGeneration;
    if (!changed) return;
    const event: StatusEvent =
      acceptedNow.status === 'True'
        ? { type: 'Normal', reason: 'PolicyAccepted', message: `${acceptedNow.message} (digest ${inForce.digest})` }
        : { type: 'Warning', reason: acceptedNow.reason === 'NotInForce' ? 'NotInForce' : 'PolicyRejected', message: acceptedNow.message };
    await options
      .recordEvent(object, event)
      .catch((error: unknown) =>
        options.log.warn({ name: object.metadata?.name, err: describe(error) }, 'could not record the SandboxPolicy event'),
      );
  };

  const once = async (): Promise<void> => {
    if (!options.leadership.isLeader()) return;
    let inForce: InForce;
    try {
      inForce = options.store.inForce();
    } catch {
      return;
    }
    for (const object of options.store.objects()) {
      try {
        await one(object, inForce);
      } catch (error) {
        // A conflict means a newer object is on its way: its watch event reconciles again.
        if (apiErrorCode(error) !== 409)
          options.log.warn({ name: object.metadata?.name, err: describe(error) }, 'could not write the SandboxPolicy status');
      }
    }
  };

  const reconcile = createCoalescedRun(() => once().catch(() => undefined));
  options.leadership.onChange((leader) => {
    if (leader) void reconcile();
  });
  return { reconcile };
}

/** Status writes through the status subresource, with the object's resourceVersion: a stale write is refused. */
export function writeSandboxPolicyStatus(client: KubeApiClient): SandboxPolicyStatusOptions['writeStatus'] {
  return async (object, status) => {
    await client.request({
      method: 'PUT',
      path: `/apis/${group}/${version}/${plural}/${encodeURIComponent(object.metadata?.name ?? '')}/status`,
      body: { apiVersion: `${group}/${version}`, kind: SANDBOX_POLICY_KIND, metadata: object.metadata, spec: object.spec, status },
    });
  };
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === 'number') return `HTTP ${e.code}: ${String(e.body ?? e.message ?? '').slice(0, 300)}`;
  return String(e?.message ?? error);
}
