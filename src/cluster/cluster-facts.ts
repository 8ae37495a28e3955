import { CoreV1Api, NodeV1Api, type KubeConfig, type V1Namespace, type V1RuntimeClass } from '@kubernetes/client-node';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Toleration } from '../k8s/pod.ts';
import { createSyncedInformer, type InformerLog } from './synced-informer.ts';

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
export function createClusterFacts(kubeConfig: KubeConfig, log: InformerLog): ClusterFacts {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const node = kubeConfig.makeApiClient(NodeV1Api);
  const namespaces = createSyncedInformer<V1Namespace>(kubeConfig, '/api/v1/namespaces', () => core.listNamespace(), {
    resource: 'namespaces',
    log,
  });
  const classes = createSyncedInformer<V1RuntimeClass>(kubeConfig, '/apis/node.k8s.io/v1/runtimeclasses', () => node.listRuntimeClass(), {
    resource: 'runtimeclasses',
    log,
  });

  // Rebuilt on change, not per request: requests read a finished map.
  let classMap: ReadonlyMap<string, RuntimeClassFacts> = new Map();
  classes.onChange(() => {
    classMap = new Map(classes.cache.list().map((rc) => [rc.metadata?.name ?? '', toRuntimeClassFacts(rc)]));
  });

  return {
    namespaceLabels: (name) => {
      const cached = namespaces.cache.get(name);
      if (cached) return cached.metadata?.labels ?? {};
      return core.readNamespace({ name }).then(
        (ns) => ns.metadata?.labels ?? {},
        (error: unknown) => {
          if ((error as { code?: number }).code === 404) return undefined;
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

export function toRuntimeClassFacts(rc: V1RuntimeClass): RuntimeClassFacts {
  const facts: RuntimeClassFacts = { name: rc.metadata?.name ?? '', handler: rc.handler };
  if (rc.scheduling?.nodeSelector) facts.nodeSelector = rc.scheduling.nodeSelector;
  if (rc.scheduling?.tolerations) facts.tolerations = rc.scheduling.tolerations as Toleration[];
  if (rc.overhead?.podFixed) facts.overhead = Object.fromEntries(Object.entries(rc.overhead.podFixed).map(([k, v]) => [k, String(v)]));
  return facts;
}
