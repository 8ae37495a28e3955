// An in-memory stand-in for the few list/get calls an audit makes, paginating like the API server
// (limit + continue) and recording every call so tests can check the queries.
import type { V1Namespace, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import type { AuditApis } from '../../../src/audit/list-cluster-state.ts';

export interface FakeCluster {
  namespaces: V1Namespace[];
  runtimeClasses: V1RuntimeClass[];
  pods: V1Pod[];
}

export interface FakeCall {
  method: string;
  params: Record<string, unknown>;
}

export interface FakeApis extends AuditApis {
  calls: FakeCall[];
  /** Make the next calls to `method` fail with this error (client-node ApiException shape). */
  failNext(method: string, error: unknown): void;
  /** Hold pod list calls until the returned function is called. */
  holdPodLists(): () => void;
}

export function fakeApis(cluster: FakeCluster): FakeApis {
  const calls: FakeCall[] = [];
  const failures = new Map<string, unknown>();
  let hold: Promise<void> | undefined;

  const record = (method: string, params: Record<string, unknown> = {}) => {
    calls.push({ method, params });
    const failure = failures.get(method);
    if (failure !== undefined) {
      failures.delete(method);
      throw failure;
    }
  };
  function page<T>(items: T[], params: { limit?: number; _continue?: string }): { items: T[]; metadata: { _continue?: string } } {
    const start = params._continue ? Number(params._continue) : 0;
    const end = params.limit ? start + params.limit : items.length;
    return { items: items.slice(start, end), metadata: end < items.length ? { _continue: String(end) } : {} };
  }
  const activePods = (params: { fieldSelector?: string }) =>
    params.fieldSelector === 'status.phase!=Succeeded,status.phase!=Failed'
      ? cluster.pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      : cluster.pods;

  const apis: AuditApis = {
    core: {
      listPodForAllNamespaces: async (params = {}) => {
        record('listPodForAllNamespaces', { ...params });
        await hold;
        return page(activePods(params), params);
      },
      listNamespacedPod: async (params) => {
        record('listNamespacedPod', { ...params });
        await hold;
        return page(
          activePods(params).filter((p) => p.metadata?.namespace === params.namespace),
          params,
        );
      },
      listNamespace: async (params = {}) => {
        record('listNamespace', { ...params });
        return page(cluster.namespaces, params);
      },
      readNamespace: async (params) => {
        record('readNamespace', { ...params });
        const ns = cluster.namespaces.find((n) => n.metadata?.name === params.name);
        if (!ns)
          throw Object.assign(new Error('HTTP-Code: 404'), {
            code: 404,
            body: JSON.stringify({ message: `namespaces "${params.name}" not found` }),
          });
        return ns;
      },
    },
    node: {
      listRuntimeClass: async (params = {}) => {
        record('listRuntimeClass', { ...params });
        return page(cluster.runtimeClasses, params);
      },
    },
  };
  return {
    ...apis,
    calls,
    failNext: (method, error) => failures.set(method, error),
    holdPodLists: () => {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

export function fakeNamespace(name: string, labels: Record<string, string> = {}): V1Namespace {
  return { metadata: { name, labels } };
}

export function fakePod(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
  spec: Partial<NonNullable<V1Pod['spec']>> = {},
  phase = 'Running',
): V1Pod {
  return {
    metadata: { namespace, name, labels },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec },
    status: { phase },
  };
}

/** A small cluster: what the unit tests of the listing, the scanner and the command share. */
export function sampleCluster(): FakeCluster {
  return {
    namespaces: [
      fakeNamespace('apps'),
      fakeNamespace('kube-system'),
      fakeNamespace('labelled', { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' }),
    ],
    runtimeClasses: [
      { metadata: { name: 'gvisor' }, handler: 'runsc' },
      { metadata: { name: 'kata' }, handler: 'kata' },
    ],
    pods: [
      fakePod('apps', 'sandboxed', { app: 'untrusted' }, { runtimeClassName: 'gvisor' }),
      fakePod('apps', 'bare', { app: 'untrusted' }),
      fakePod('apps', 'hostnet', { app: 'untrusted' }, { runtimeClassName: 'gvisor', hostNetwork: true }),
      fakePod('apps', 'web', { app: 'web' }),
      fakePod('apps', 'finished', { app: 'untrusted' }, {}, 'Succeeded'),
      fakePod('apps', 'crashed', { app: 'untrusted' }, {}, 'Failed'),
      fakePod('kube-system', 'dns', { app: 'untrusted' }, {}, 'Pending'),
      fakePod('labelled', 'plain', {}),
      fakePod('labelled', 'vm', {}, { runtimeClassName: 'kata' }),
    ],
  };
}
