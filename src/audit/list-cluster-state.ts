import { CoreV1Api, NodeV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { toRuntimeClassFacts } from '../cluster/cluster-facts.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';

/** The client-node calls an audit makes, and nothing else: read-only (get/list pods, namespaces, RuntimeClasses). */
export interface AuditApis {
  core: Pick<CoreV1Api, 'listPodForAllNamespaces' | 'listNamespacedPod' | 'listNamespace' | 'readNamespace'>;
  node: Pick<NodeV1Api, 'listRuntimeClass'>;
}

export function createAuditApis(kubeConfig: KubeConfig): AuditApis {
  return { core: kubeConfig.makeApiClient(CoreV1Api), node: kubeConfig.makeApiClient(NodeV1Api) };
}

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
export async function* listActivePodPages(core: AuditApis['core'], options: PodPageOptions = {}): AsyncGenerator<V1Pod[], void, undefined> {
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  let token: string | undefined;
  do {
    const query = { limit, fieldSelector: ACTIVE_POD_FIELD_SELECTOR, ...(token ? { _continue: token } : {}) };
    const page =
      options.namespace === undefined
        ? await core.listPodForAllNamespaces(query)
        : await core.listNamespacedPod({ namespace: options.namespace, ...query });
    token = page.metadata?._continue || undefined;
    // The field selector already did this; checked again for servers (and fakes) that ignore it.
    yield page.items.filter((pod) => !isFinished(pod));
  } while (token);
}

export function isFinished(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Labels of every namespace (or of the one asked for), paginated; only names and labels are kept. */
export async function listNamespaceLabels(
  core: AuditApis['core'],
  options: PodPageOptions = {},
): Promise<Map<string, Record<string, string>>> {
  const labels = new Map<string, Record<string, string>>();
  if (options.namespace !== undefined) {
    const found = await readNamespaceLabels(core, options.namespace);
    if (found) labels.set(options.namespace, found);
    return labels;
  }
  let token: string | undefined;
  do {
    const page = await core.listNamespace({ limit: options.pageSize ?? DEFAULT_PAGE_SIZE, ...(token ? { _continue: token } : {}) });
    for (const ns of page.items) {
      if (ns.metadata?.name) labels.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}) });
    }
    token = page.metadata?._continue || undefined;
  } while (token);
  return labels;
}

/** One namespace's labels, or undefined when it does not exist (deleted since its pods were listed). */
export async function readNamespaceLabels(core: AuditApis['core'], name: string): Promise<Record<string, string> | undefined> {
  try {
    const ns = await core.readNamespace({ name });
    return { ...(ns.metadata?.labels ?? {}) };
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  }
}

/** Every RuntimeClass by name, as the decision sees them. */
export async function listRuntimeClassFacts(
  node: AuditApis['node'],
  options: Pick<PodPageOptions, 'pageSize'> = {},
): Promise<Map<string, RuntimeClassFacts>> {
  const classes = new Map<string, RuntimeClassFacts>();
  let token: string | undefined;
  do {
    const page = await node.listRuntimeClass({ limit: options.pageSize ?? DEFAULT_PAGE_SIZE, ...(token ? { _continue: token } : {}) });
    for (const rc of page.items) {
      const facts = toRuntimeClassFacts(rc);
      classes.set(facts.name, facts);
    }
    token = page.metadata?._continue || undefined;
  } while (token);
  return classes;
}

/** A client-node error in one line: status code and the API server's own message, without the response dump. */
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
