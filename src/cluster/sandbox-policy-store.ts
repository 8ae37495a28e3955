/**
 * The policy in force read from the API (--policy-source=crd): the SandboxPolicy named --policy-name (default
 * "default"), watched by an informer. A change the runtime check refuses (what the CRD schema lets through, see
 * sandbox-policy-crd.ts) leaves the last good policy in force; so does deleting the object. Other SandboxPolicies
 * are watched too, only so that their status can say they are not in force.
 */
import type { KubeApiClient, KubeObject } from '../kube/api-client.ts';
import { formatCodedError, type CodedError } from '../errors.ts';
import { parsePolicyObject } from '../policy/parse.ts';
import { policyDigest } from '../policy/policy-digest.ts';
import type { PolicyReloadEvent, ReloadingPolicyStore } from '../policy/policy-store.ts';
import {
  SANDBOX_POLICY_GROUP as group,
  SANDBOX_POLICY_PLURAL as plural,
  SANDBOX_POLICY_VERSION as version,
} from '../policy/sandbox-policy-crd.ts';
import type { Policy, PolicyDocument } from '../policy/types.ts';
import { createSyncedInformer, type InformerLog } from './synced-informer.ts';

export interface SandboxPolicyObject extends KubeObject {
  spec?: unknown;
  status?: Record<string, unknown>;
}

/** The object in force, as checked: which generation the webhook serves, and the last one it refused. */
export interface InForce {
  name: string;
  uid: string | undefined;
  /** metadata.generation of the policy in force. */
  generation: number;
  digest: string;
  rules: number;
  mode: string;
}

export interface Refusal {
  uid: string | undefined;
  generation: number;
  errors: CodedError[];
}

export interface CrdPolicyStore extends ReloadingPolicyStore {
  /** The name of the one SandboxPolicy that can be in force. */
  readonly name: string;
  /** List, watch and load the policy; rejects when no valid policy named `name` exists (the caller exits). */
  start(): Promise<void>;
  synced(): boolean;
  objects(): readonly SandboxPolicyObject[];
  inForce(): InForce;
  /** The last refused generation of the object in force, while no later one was accepted. */
  refusal(): Refusal | undefined;
  /** Called after any SandboxPolicy was added, changed or deleted (after the policy in force was re-checked). */
  onObjectsChange(listener: () => void): void;
}

export interface CrdPolicyStoreOptions {
  client: KubeApiClient;
  webhookNamespace: string;
  name: string;
  log: InformerLog & { error(data: object, message: string): void };
  /** First wait after a failed list or watch (tests shorten it). */
  retryMs?: number;
}

const PATH = `/apis/${group}/${version}/${plural}`;

/** The document the runtime check reads: what the policy file would hold (status and server fields dropped). */
export function documentOf(object: SandboxPolicyObject): unknown {
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name }, spec: object.spec };
}

/** The distinct modes of the rules, for the printer column: enforce, or e.g. "enforce,warn". */
export function rulesMode(document: PolicyDocument): string {
  const modes = [...new Set((document.spec.rules ?? []).map((r) => r.mode ?? 'enforce'))].sort();
  return modes.length > 0 ? modes.join(',') : 'none';
}

export function createCrdPolicyStore(options: CrdPolicyStoreOptions): CrdPolicyStore {
  const informer = createSyncedInformer<SandboxPolicyObject, SandboxPolicyObject>(options.client, PATH, {
    resource: plural,
    log: options.log,
    transform: (object) => object,
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
  });
  const source = `${plural}/${options.name}`;
  let loaded: { policy: Policy; document: PolicyDocument; inForce: InForce } | undefined;
  let refused: Refusal | undefined;
  let missingReported = false;
  const listeners: Array<(event: PolicyReloadEvent) => void> = [];
  const emit = (event: PolicyReloadEvent): PolicyReloadEvent => {
    for (const listener of listeners) listener(event);
    return event;
  };

  const reload = (): PolicyReloadEvent => {
    const object = informer.cache.get(options.name);
    if (!object) {
      if (loaded && !missingReported)
        options.log.warn({ source }, 'the SandboxPolicy in force was deleted; the last good policy stays in force');
      missingReported = true;
      return { result: 'unchanged', path: source };
    }
    missingReported = false;
    const uid = object.metadata?.uid;
    const generation = object.metadata?.generation ?? 0;
    // Status writes and label edits do not change the generation: only a spec change is a new policy.
    const seen = (g: { uid: string | undefined; generation: number } | undefined) => g?.uid === uid && g?.generation === generation;
    if (seen(loaded?.inForce) || seen(refused)) return { result: 'unchanged', path: source, generation };
    let parsed: ReturnType<typeof parsePolicyObject>;
    try {
      parsed = parsePolicyObject(documentOf(object), { webhookNamespace: options.webhookNamespace });
    } catch (cause) {
      // Runs from a watch event: whatever goes wrong must leave the last good policy, never end the process.
      parsed = { ok: false, error: [{ code: 'POLICY_READ', path: source, message: (cause as Error).message }] };
    }
    if (!parsed.ok) {
      refused = { uid, generation, errors: parsed.error };
      return emit({ result: 'failure', path: source, generation, errors: parsed.error });
    }
    refused = undefined;
    const { document, policy } = parsed.value;
    loaded = {
      policy,
      document,
      inForce: {
        name: options.name,
        uid,
        generation,
        digest: policyDigest(document),
        rules: document.spec.rules?.length ?? 0,
        mode: rulesMode(document),
      },
    };
    return emit({ result: 'success', path: source, generation });
  };
  const objectListeners: Array<() => void> = [];
  informer.onChange(() => {
    reload();
    for (const listener of objectListeners) listener();
  });

  const required = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`no policy loaded from ${source} yet`);
    return value;
  };

  return {
    name: options.name,
    start: async () => {
      await informer.start();
      reload();
      if (loaded) return;
      await informer.stop();
      const problems = refused?.errors ?? [];
      const error = new Error(
        problems.length > 0
          ? `SandboxPolicy "${options.name}" is invalid:\n${problems.map((e) => `  ${formatCodedError(e)}`).join('\n')}`
          : `no SandboxPolicy "${options.name}" (or the API did not list it): create one, e.g. \`sandbox-admission policy migrate --policy manifests/base/policy.yaml | kubectl apply -f -\``,
      );
      (error as Error & { problems: CodedError[] }).problems = problems;
      throw error;
    },
    synced: informer.synced,
    objects: () => informer.cache.list(),
    inForce: () => required(loaded).inForce,
    refusal: () => refused,
    current: () => required(loaded).policy,
    document: () => required(loaded).document,
    policyDigest: () => required(loaded).inForce.digest,
    reload,
    onReload: (listener) => {
      listeners.push(listener);
    },
    onObjectsChange: (listener) => {
      objectListeners.push(listener);
    },
    close: () => void informer.stop(),
  };
}
