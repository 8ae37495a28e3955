import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';

export interface InformerLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface SyncedInformer<T extends KubernetesObject> {
  cache: ObjectCache<T>;
  /** True once a list succeeded and the watch is running; false after a watch error until it runs again. */
  synced(): boolean;
  /** Registers add/update/delete callbacks (before start). */
  onChange(callback: () => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** client-node's makeInformer, replaceable in tests. */
export type InformerFactory = <T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
) => Informer<T> & ObjectCache<T>;

/**
 * A client-node informer that knows whether its cache can be trusted. client-node's start() resolves even
 * when the first list failed, and after a watch error the informer stays stopped; this wrapper counts
 * errors, restarts with backoff, and only reports synced when a start went through without one.
 */
export function createSyncedInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  options: { resource: string; log: InformerLog; retryMs?: number; makeInformer?: InformerFactory },
): SyncedInformer<T> {
  const informer: Informer<T> & ObjectCache<T> = (options.makeInformer ?? makeInformer)(kubeConfig, path, list);
  let errors = 0;
  let synced = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const retryMs = options.retryMs ?? 2000;

  const run = async (): Promise<void> => {
    const before = errors;
    await informer.start();
    if (errors === before && !stopped) {
      if (!synced) options.log.info({ resource: options.resource }, 'cache synced');
      synced = true;
    }
  };
  informer.on('error', (error: unknown) => {
    errors++;
    synced = false;
    if (stopped) return;
    options.log.warn({ resource: options.resource, err: describe(error) }, 'watch failed; cache not ready until it resyncs');
    clearTimeout(retry);
    retry = setTimeout(() => void run(), retryMs);
    retry.unref();
  });

  return {
    cache: informer,
    synced: () => synced,
    onChange: (callback) => {
      informer.on('add', callback);
      informer.on('update', callback);
      informer.on('delete', callback);
    },
    start: run,
    stop: async () => {
      stopped = true;
      clearTimeout(retry);
      synced = false;
      await informer.stop();
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'code' in error) return `status ${String((error as { code: unknown }).code)}`;
  return String(error);
}
