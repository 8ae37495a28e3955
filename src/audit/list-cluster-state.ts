import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { type RuntimeClassObject, toRuntimeClassFacts } from '../cluster/cluster-facts.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import { apiErrorCode, type KubeApiClient, type KubeList, type QueryValue } from '../kube/api-client.ts';

// The calls an audit makes are read-only: get/list pods, namespaces, RuntimeClasses. Objects are the API server's
// JSON; client-node's model types only describe their shape (where those say Date, the JSON has an RFC 3339 string;
// the audit reads no timestamp).

/** Objects per list request, as kubectl's --chunk-size: a page of pods is a few MB at most. */
export const DEFAULT_PAGE_SIZE = 500;

/**
 * Pods that finished (Succeeded, Failed) run nothing and are skipped by the API server itself. Unknown and
 * Pending stay: a Pending pod is about to run, an Unknown one may still be running on an unreachable node.
 */
export const ACTIVE_POD_FIELD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed';

export interface PodPageOptions {
  /** One namespace, or every namespace when undefined. */
  namespace?: string;
  pageSize?: number;
}

/**
 * Pages of the active pods, one list request each (limit + continue), so a caller can judge a page and drop it
 * before the next one is fetched: memory stays at one page whatever the cluster size. The pages form one
 * consistent snapshot; if it expires mid-way (410 Gone, a scan slower than etcd compaction) the error is thrown.
 */
export async function* listActivePodPages(client: KubeApiClient, options: PodPageOptions = {}): AsyncGenerator<V1Pod[], void, undefined> {
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const path = options.namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  let token: string | undefined;
  do {
    const page = await listPage<V1Pod>(client, path, { limit, fieldSelector: ACTIVE_POD_FIELD_SELECTOR, continue: token });
    token = page.metadata?.continue || undefined;
    // The field selector already did this; checked again for servers (and fakes) that ignore it.
    yield page.items.filter((pod) => !isFinished(pod));
  } while (token);
}

function listPage<T>(client: KubeApiClient, path: string, query: Record<string, QueryValue>): Promise<KubeList<T>> {
  return client.request<KubeList<T>>({ method: 'GET', path, query });
}

export function isFinished(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Labels of every namespace (or of the one asked for), paginated; only names and labels are kept. */
export async function listNamespaceLabels(
  client: KubeApiClient,
  options: PodPageOptions = {},
): Promise<Map<string, Record<string, string>>> {
  const labels = new Map<string, Record<string, string>>();
  if (options.namespace !== undefined) {
    const found = await readNamespaceLabels(client, options.namespace);
    if (found) labels.set(options.namespace, found);
    return labels;
  }
  let token: string | undefined;
  do {
    const page = await listPage<V1Namespace>(client, '/api/v1/namespaces', {
      limit: options.pageSize ?? DEFAULT_PAGE_SIZE,
      continue: token,
    });
    for (const ns of page.items) {
      if (ns.metadata?.name) labels.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}) });
    }
    token = page.metadata?.continue || undefined;
  } while (token);
  return labels;
}

/** One namespace's labels, or undefined when it does not exist (deleted since its pods were listed). */
export async function readNamespaceLabels(client: KubeApiClient, name: string): Promise<Record<string, string> | undefined> {
  try {
    const ns = await client.request<V1Namespace>({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(name)}` });
    return { ...(ns.metadata?.labels ?? {}) };
  } catch (error) {
    if (apiErrorCode(error) === 404) return undefined;
    throw error;
  }
}

/** Every RuntimeClass by name, as the decision sees them. */
export async function listRuntimeClassFacts(
  client: KubeApiClient,
  options: Pick<PodPageOptions, 'pageSize'> = {},
): Promise<Map<string, RuntimeClassFacts>> {
  const classes = new Map<string, RuntimeClassFacts>();
  let token: string | undefined;
  do {
    const page = await listPage<RuntimeClassObject>(client, '/apis/node.k8s.io/v1/runtimeclasses', {
      limit: options.pageSize ?? DEFAULT_PAGE_SIZE,
      continue: token,
    });
    for (const rc of page.items) {
      const facts = toRuntimeClassFacts(rc);
      classes.set(facts.name, facts);
    }
    token = page.metadata?.continue || undefined;
  } while (token);
  return classes;
}

/** An API error in one line: status code and the API server's own message, without the response dump. */
export function describeApiError(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: unknown; cause?: unknown };
  if (typeof e.code === 'number') {
    let message: string | undefined;
    try {
      const body =
        typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: unknown }) : (e.body as { message?: unknown } | undefined);
      if (typeof body?.message === 'string') message = body.message;
    } catch {
      message = undefined;
    }
    return `API server answered ${e.code}${message ? `: ${message}` : ''}`;
  }
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? ` (${cause.code})` : typeof cause?.message === 'string' ? ` (${cause.message})` : '';
  return `${typeof e.message === 'string' ? e.message : String(error)}${detail}`;
}
