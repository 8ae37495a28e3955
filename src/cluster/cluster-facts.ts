import type { KubeApiClient, KubeObject } from '../kube/api-client.ts';
import { apiErrorCode } from '../kube/api-client.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Toleration } from '../k8s/pod.ts';
import { createSyncedInformer, type InformerLog } from './synced-informer.ts';

/** The fields of a RuntimeClass the webhook reads (node.k8s.io/v1). */
export interface RuntimeClassObject extends KubeObject {
  handler: string;
  scheduling?: { nodeSelector?: Record<string, string>; tolerations?: unknown[] };
  overhead?: { podFixed?: Record<string, string | number> };
}

type Labels = Readonly<Record<string, string>>;

export interface ClusterFacts {
  namespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined> | Readonly<Record<string, string>> | undefined;
  runtimeClasses(): ReadonlyMap<string, RuntimeClassFacts>;
  readiness(): { ready: boolean; detail: Record<string, unknown> };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Namespaces and RuntimeClasses from informer caches: one in-memory read per request, never an API call
 * on the hot path, except one GET for a namespace the cache has not seen yet (created a moment ago).
 */
export function createClusterFacts(client: KubeApiClient, log: InformerLog): ClusterFacts {
  // A namespace is kept as its labels alone: 10,000 whole namespaces are mostly managedFields nobody reads here.
  const namespaces = createSyncedInformer<KubeObject, Labels>(client, '/api/v1/namespaces', {
    resource: 'namespaces',
    log,
    transform: (ns) => ns.metadata?.labels ?? {},
  });
  const classes = createSyncedInformer<RuntimeClassObject, RuntimeClassFacts>(client, '/apis/node.k8s.io/v1/runtimeclasses', {
    resource: 'runtimeclasses',
    log,
    transform: toRuntimeClassFacts,
  });

  // Rebuilt on change, not per request: requests read a finished map.
  let classMap: ReadonlyMap<string, RuntimeClassFacts> = new Map();
  classes.onChange(() => {
    classMap = new Map(classes.cache.list().map((rc) => [rc.name, rc]));
  });

  return {
    namespaceLabels: (name) => {
      const cached = namespaces.cache.get(name);
      if (cached) return cached;
      return client.request<KubeObject>({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(name)}` }).then(
        (ns) => ns.metadata?.labels ?? {},
        (error: unknown) => {
          if (apiErrorCode(error) === 404) return undefined;
          // Deciding without the namespace's labels could skip a namespace policy: fail the review instead.
          throw new Error(`cannot read namespace ${name}: ${(error as Error).message}`);
        },
      );
    },
    runtimeClasses: () => classMap,
    readiness: () => ({
      ready: namespaces.synced() && classes.synced(),
      detail: { namespacesSynced: namespaces.synced(), runtimeClassesSynced: classes.synced() },
    }),
    start: async () => {
      await Promise.all([namespaces.start(), classes.start()]);
    },
    stop: async () => {
      await Promise.all([namespaces.stop(), classes.stop()]);
    },
  };
}

export function toRuntimeClassFacts(rc: RuntimeClassObject): RuntimeClassFacts {
  const facts: RuntimeClassFacts = { name: rc.metadata?.name ?? '', handler: rc.handler };
  if (rc.scheduling?.nodeSelector) facts.nodeSelector = rc.scheduling.nodeSelector;
  if (rc.scheduling?.tolerations) facts.tolerations = rc.scheduling.tolerations as Toleration[];
  if (rc.overhead?.podFixed) facts.overhead = Object.fromEntries(Object.entries(rc.overhead.podFixed).map(([k, v]) => [k, String(v)]));
  return facts;
}
