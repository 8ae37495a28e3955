/**
 * Keeps the generated admission policies in the cluster equal to what the policy in force renders: the leader
 * applies every object the generators produce (server-side apply, one field manager, so an unchanged object is not
 * written at all), replaces one that someone else added fields to, and deletes the generated objects (found by the
 * generators' labels) that the policy no longer produces. Runs on every policy change, on becoming leader, and on
 * an interval, which also repairs a hand edit or delete. Only the kinds the install manages are touched.
 */
import { MAP_LABELS } from '../admission-policies/mutating-admission-policy.ts';
import { VAP_LABELS } from '../admission-policies/validating-admission-policy.ts';
import { foreignSpecFields, formatLabelSelector, type LiveObject, type ObjectWriter, type WritableObject } from './server-side-apply.ts';
import { createCoalescedRun } from '../util/coalesced-run.ts';

/** Which generated policies the install keeps in sync (--manage-admission-policies). */
export type ManagedPolicyKind = 'validating' | 'mutating';

const API_VERSION = 'admissionregistration.k8s.io/v1';

/** The object kinds of each managed kind, with the labels their generator puts on them. */
export const MANAGED_OBJECT_KINDS: Readonly<
  Record<ManagedPolicyKind, { kinds: readonly string[]; labels: Readonly<Record<string, string>> }>
> = {
  validating: { kinds: ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'], labels: VAP_LABELS },
  mutating: { kinds: ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'], labels: MAP_LABELS },
};

/**
 * `--manage-admission-policies` values (repeatable, comma-separated): none, validating, mutating. "none" alone
 * means none; mixing it with a kind is a mistake worth refusing.
 */
export function parseManagedPolicyKinds(values: readonly string[]): Set<ManagedPolicyKind> {
  const words = values
    .flatMap((v) => v.split(','))
    .map((w) => w.trim())
    .filter((w) => w !== '');
  const kinds = new Set<ManagedPolicyKind>();
  for (const word of words) {
    if (word === 'validating' || word === 'mutating') kinds.add(word);
    else if (word !== 'none') throw new Error(`--manage-admission-policies takes none, validating or mutating, got "${word}"`);
  }
  if (words.includes('none') && kinds.size > 0) throw new Error('--manage-admission-policies: "none" cannot be combined with a kind');
  return kinds;
}

export type WriteAction = 'created' | 'updated' | 'repaired' | 'deleted';

export interface ReconcileResult {
  /** Objects written or deleted, as kind/name -> what was done. */
  changes: Array<{ kind: string; name: string; action: WriteAction }>;
  unchanged: number;
}

export interface AdmissionPolicyReconcilerLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface AdmissionPolicyReconcilerOptions {
  kinds: ReadonlySet<ManagedPolicyKind>;
  /** What the policy in force renders, for the managed kinds (render vap / render map of the same document). */
  desired: () => WritableObject[];
  writer: ObjectWriter;
  /** Checked before every write: a replica that stopped leading mid-way writes nothing more. */
  isLeader: () => boolean;
  log: AdmissionPolicyReconcilerLog;
  intervalMs: number;
  /** Told of every write (metrics), and of each run that changed something (the drift check re-checks). */
  onWrite?: (kind: string, action: WriteAction | 'failed') => void;
  onReconciled?: (result: ReconcileResult) => void;
}

export interface AdmissionPolicyReconciler {
  /** Reconcile now (or once more after the run in flight); never rejects; resolves to undefined when not leading or failed. */
  reconcile(): Promise<ReconcileResult | undefined>;
  start(): void;
  stop(): Promise<void>;
}

export function createAdmissionPolicyReconciler(options: AdmissionPolicyReconcilerOptions): AdmissionPolicyReconciler {
  const { writer, log } = options;
  let running: Promise<ReconcileResult | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastError: string | undefined;
  /** What this replica last wrote, by kind/name: the resourceVersion the API server gave it and the content sent. */
  const written = new Map<string, { resourceVersion: string | undefined; content: string }>();

  const once = async (): Promise<ReconcileResult | undefined> => {
    if (!options.isLeader() || stopped) return undefined;
    const desired = options.desired();
    const result: ReconcileResult = { changes: [], unchanged: 0 };
    // The kinds side by side: a policy edit reaches the mutating policy as soon as the validating ones.
    const aborted = await Promise.all([...options.kinds].map((managed) => reconcileKind(managed, desired, result)));
    return aborted.includes(true) ? undefined : result;
  };

  /** One managed kind's objects; true when it stopped because this replica no longer leads. */
  const reconcileKind = async (managed: ManagedPolicyKind, desired: WritableObject[], result: ReconcileResult): Promise<boolean> => {
    const { kinds, labels } = MANAGED_OBJECT_KINDS[managed];
    const wanted = desired.filter((o) => o.kind !== undefined && kinds.includes(o.kind));
    const live = new Map<string, LiveObject>();
    const lists = await Promise.all(kinds.map((kind) => writer.list(API_VERSION, kind, formatLabelSelector(labels))));
    kinds.forEach((kind, i) => {
      for (const o of lists[i]!) live.set(`${kind}/${o.metadata?.name}`, o);
    });
    if (!options.isLeader() || stopped) return true;
    // All at once: one round trip, not one per object, from a policy edit to the cluster (a binding may name a
    // policy that is being created in the same moment; the API server allows that).
    const actions = await Promise.all(
      wanted.map((object) => {
        const key = `${object.kind}/${object.metadata?.name}`;
        const before = live.get(key);
        live.delete(key);
        return write(object, before);
      }),
    );
    wanted.forEach((object, i) => {
      const action = actions[i];
      if (action) result.changes.push({ kind: object.kind!, name: object.metadata!.name!, action });
      else result.unchanged++;
    });
    // What is left carries the generator's labels but the policy no longer renders it (a mode no rule uses now).
    // Bindings first, so no policy is left bound for a moment without its own object.
    const leftover = [...live.keys()];
    for (const group of [leftover.filter((k) => k.includes('Binding/')), leftover.filter((k) => !k.includes('Binding/'))]) {
      if (!options.isLeader() || stopped) return true;
      await Promise.all(
        group.map(async (key) => {
          const [kind, name] = key.split('/') as [string, string];
          await writer.delete({ apiVersion: API_VERSION, kind, metadata: { name } });
          written.delete(key);
          options.onWrite?.(kind, 'deleted');
          result.changes.push({ kind, name, action: 'deleted' });
        }),
      );
    }
    return false;
  };

  const write = async (object: WritableObject, before: LiveObject | undefined): Promise<WriteAction | undefined> => {
    const kind = object.kind!;
    if (!options.isLeader() || stopped) return undefined;
    const key = `${kind}/${object.metadata?.name}`;
    const content = JSON.stringify(object);
    const last = written.get(key);
    // Nobody wrote it since we did (same resourceVersion) and the policy renders the same: nothing to send.
    if (before && last && last.resourceVersion === before.metadata?.resourceVersion && last.content === content) return undefined;
    try {
      const applied = await writer.apply(object);
      let action: WriteAction | undefined =
        before === undefined ? 'created' : applied.metadata?.resourceVersion !== before.metadata?.resourceVersion ? 'updated' : undefined;
      const foreign = foreignSpecFields(applied.metadata?.managedFields);
      if (foreign.length > 0) {
        // Fields an apply leaves alone because another manager set them: the replace drops them.
        log.warn({ kind, name: object.metadata?.name, fields: foreign }, 'a generated admission policy was changed by hand; replacing it');
        const replaced = await writer.replace({
          ...object,
          metadata: { ...object.metadata, resourceVersion: applied.metadata?.resourceVersion },
        });
        action = 'repaired';
        written.set(key, { resourceVersion: replaced.metadata?.resourceVersion, content });
      } else {
        written.set(key, { resourceVersion: applied.metadata?.resourceVersion, content });
      }
      if (action) options.onWrite?.(kind, action);
      return action;
    } catch (error) {
      options.onWrite?.(kind, 'failed');
      throw error;
    }
  };

  const run = async (): Promise<ReconcileResult | undefined> => {
    try {
      const result = await once();
      lastError = undefined;
      if (result && result.changes.length > 0) {
        log.info(
          { changes: result.changes, unchanged: result.unchanged },
          'the generated admission policies were brought in line with the policy in force',
        );
      }
      if (result) options.onReconciled?.(result);
      return result;
    } catch (error) {
      const message = describeError(error);
      if (message !== lastError) log.warn({ error: message }, 'could not bring the generated admission policies in line; retrying');
      lastError = message;
      return undefined;
    }
  };

  const coalesced = createCoalescedRun(run, () => !stopped);
  const reconcile = (): Promise<ReconcileResult | undefined> => {
    running = coalesced();
    return running;
  };

  return {
    reconcile,
    start: () => {
      if (timer || stopped) return;
      void reconcile();
      timer = setInterval(() => void reconcile(), options.intervalMs);
      timer.unref();
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

function describeError(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === 'number') {
    let detail = '';
    try {
      const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
      detail = body?.message ? `: ${body.message}` : '';
    } catch {
      detail = '';
    }
    return `HTTP ${e.code}${detail}`;
  }
  return String(e?.message ?? error);
}
