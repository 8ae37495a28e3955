import { apiErrorCode, type KubeApiClient, type KubeList, type KubeObject, type WatchEvent } from '../kube/api-client.ts';

export interface InformerLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface ObjectCache<S> {
  /** By name, and namespace for namespaced objects. */
  get(name: string, namespace?: string): S | undefined;
  list(): S[];
}

export interface SyncedInformer<S> {
  cache: ObjectCache<S>;
  /** True once a list succeeded and its watch runs; false after an error until a list or watch runs again. */
  synced(): boolean;
  /** Called after each change of the cache: a (re)list, an added, modified or deleted object. */
  onChange(callback: () => void): void;
  /** Resolves after the first list, whether it succeeded or not (synced() says which); retries run on. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SyncedInformerOptions<T, S> {
  resource: string;
  log: InformerLog;
  /** What the cache keeps of each object: only what its reader needs (10,000 namespaces are mostly managedFields). */
  transform: (object: T) => S;
  /** First wait after a failure; doubled on each failure in a row, up to 30 s. */
  retryMs?: number;
  pageSize?: number;
  /** The watch's server-side timeout, seconds; client-go picks 5-10 minutes at random so watches do not expire together. */
  watchTimeoutSeconds?: () => number;
}

const MAX_RETRY_MS = 30_000;

/** The list's resourceVersion is too old to watch from (410 Gone, or an ERROR event saying so): list again. */
class ExpiredError extends Error {}

/**
 * A cache of one resource kept current by list and watch, as client-go's reflector does: a paged list (a 410 in
 * the middle restarts it), then a watch from the list's resourceVersion with bookmarks, watched again from the
 * last resourceVersion seen when the server ends it, listed again when that version has expired, retried with
 * backoff on any other failure. Objects are stored as `transform` keeps them.
 */
export function createSyncedInformer<T extends KubeObject, S>(
  client: KubeApiClient,
  path: string,
  options: SyncedInformerOptions<T, S>,
): SyncedInformer<S> {
  const { log, resource, transform } = options;
  const retryMs = options.retryMs ?? 2000;
  const pageSize = options.pageSize ?? 500;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? (() => 300 + Math.floor(Math.random() * 300));
  let store = new Map<string, S>();
  const listeners: Array<() => void> = [];
  let synced = false;
  let stopped = false;
  let everSynced = false;
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const changed = (): void => {
    for (const listener of listeners) listener();
  };
  const keyOf = (object: KubeObject): string =>
    object.metadata?.namespace ? `${object.metadata.namespace}/${object.metadata.name ?? ''}` : (object.metadata?.name ?? '');

  const list = async (): Promise<string> => {
    const fresh = new Map<string, S>();
    let token: string | undefined;
    let resourceVersion = '';
    do {
      let page: KubeList<T>;
      try {
        page = await client.request<KubeList<T>>({
          method: 'GET',
          path,
          query: { limit: pageSize, ...(token ? { continue: token } : {}) },
          signal: abort.signal,
        });
      } catch (error) {
        // The continue token outlived the snapshot it pages (etcd compacted it): list again from the start.
        if (token && apiErrorCode(error) === 410) throw new ExpiredError('the list expired while paging');
        throw error;
      }
      for (const item of page.items ?? []) fresh.set(keyOf(item), transform(item));
      token = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (token);
    store = fresh;
    changed();
    return resourceVersion;
  };

  /** The last resourceVersion seen (list, event or bookmark): where a broken or ended watch resumes. */
  let resourceVersion: string | undefined;

  /** Watch from `from` until the server ends the watch or it breaks, moving resourceVersion along. */
  const watch = async (from: string): Promise<void> => {
    const events = client.watch<T>(
      path,
      { resourceVersion: from, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds() },
      abort.signal,
      markSynced,
    );
    try {
      await applyEvents(events);
    } catch (error) {
      // The server may refuse the watch itself with 410 Gone rather than send an ERROR event: list again either way.
      if (apiErrorCode(error) === 410) throw new ExpiredError((error as Error).message);
      throw error;
    }
  };

  const applyEvents = async (events: AsyncIterable<WatchEvent<T>>): Promise<void> => {
    for await (const event of events) {
      if (event.type === 'ERROR') {
        const status = event.object as { code?: number; message?: string };
        if (status.code === 410) throw new ExpiredError(status.message ?? 'resourceVersion expired');
        throw new Error(`watch error event: ${status.code ?? ''} ${status.message ?? ''}`.trim());
      }
      const object = event.object;
      resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
      if (event.type === 'BOOKMARK') continue;
      if (event.type === 'DELETED') store.delete(keyOf(object));
      else store.set(keyOf(object), transform(object));
      changed();
    }
  };

  const markSynced = (): void => {
    if (synced || stopped) return;
    synced = true;
    if (!everSynced) log.info({ resource }, 'cache synced');
    everSynced = true;
  };

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
      timer.unref();
    });

  const run = async (firstList: () => void): Promise<void> => {
    let failures = 0;
    while (!stopped) {
      try {
        if (resourceVersion === undefined) {
          try {
            resourceVersion = await list();
          } finally {
            firstList();
          }
          markSynced();
        }
        const watchedAt = Date.now();
        const before = resourceVersion;
        await watch(resourceVersion);
        failures = 0;
        // A server that ends every watch at once, with nothing sent, is not watched again in a tight loop.
        if (resourceVersion === before && Date.now() - watchedAt < 1000) await pause(retryMs);
      } catch (error) {
        if (stopped) break;
        synced = false;
        if (error instanceof ExpiredError) {
          // Not a failure: the server has moved on; the next list brings the cache up to date.
          resourceVersion = undefined;
          log.info({ resource, reason: error.message }, 'watch expired; listing again');
          continue;
        }
        failures++;
        const wait = Math.min(retryMs * 2 ** (failures - 1), MAX_RETRY_MS);
        log.warn({ resource, err: describe(error), retryInMs: wait }, 'watch failed; cache not ready until it resyncs');
        await pause(wait);
      }
    }
  };

  return {
    cache: {
      get: (name, namespace) => store.get(namespace ? `${namespace}/${name}` : name),
      list: () => [...store.values()],
    },
    synced: () => synced,
    onChange: (callback) => {
      listeners.push(callback);
    },
    start: () =>
      new Promise<void>((resolve) => {
        loop = run(resolve);
      }),
    stop: async () => {
      stopped = true;
      synced = false;
      abort.abort();
      clearTimeout(timer);
      wake?.();
      await loop?.catch(() => undefined);
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const code = apiErrorCode(error);
  return code === undefined ? String(error) : `status ${code}`;
}
