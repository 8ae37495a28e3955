// A small cluster behind the shared fake KubeApiClient: the few list/get paths an audit reads, paginated like the
// API server (limit + continue); the client records every request so tests can check paths and queries.
import type { V1Namespace, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import type { ApiRequest } from '../../../src/kube/api-client.ts';
import { createFakeKubeApiClient, type FakeKubeApiClient, kubeApiError, pageOf } from '../helpers/fake-kube-api-client.ts';

export interface FakeCluster {
  namespaces: V1Namespace[];
  runtimeClasses: V1RuntimeClass[];
  pods: V1Pod[];
}

export interface FakeApis extends FakeKubeApiClient {
  /** Hold pod list requests until the returned function is called. */
  holdPodLists(): () => void;
  /** The requests to one path (e.g. `/api/v1/pods`). */
  requestsTo(path: string): FakeKubeApiClient['requests'];
}

export const ALL_PODS_PATH = '/api/v1/pods';
export const NAMESPACES_PATH = '/api/v1/namespaces';
export const RUNTIME_CLASSES_PATH = '/apis/node.k8s.io/v1/runtimeclasses';

/** `ignoreFieldSelector`: answer like a server (or proxy) that drops the phase selector. */
export function fakeApis(cluster: FakeCluster, options: { ignoreFieldSelector?: boolean } = {}): FakeApis {
  let hold: Promise<void> | undefined;
  const activePods = (query: ApiRequest['query']) =>
    !options.ignoreFieldSelector && query?.fieldSelector === 'status.phase!=Succeeded,status.phase!=Failed'
      ? cluster.pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      : cluster.pods;
  const client = createFakeKubeApiClient(async (request) => {
    if (request.method !== 'GET') throw new Error(`the audit fake answers GET only, got ${request.method} ${request.path}`);
    const { path, query } = request;
    if (path === ALL_PODS_PATH) {
      await hold;
      return pageOf(activePods(query), query);
    }
    const namespacedPods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path);
    if (namespacedPods) {
      await hold;
      return pageOf(
        activePods(query).filter((p) => p.metadata?.namespace === namespacedPods[1]),
        query,
      );
    }
    if (path === NAMESPACES_PATH) return pageOf(cluster.namespaces, query);
    const namespace = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path);
    if (namespace) {
      const found = cluster.namespaces.find((n) => n.metadata?.name === namespace[1]);
      if (!found) throw kubeApiError(404, `namespaces "${namespace[1]}" not found`);
      return found;
    }
    if (path === RUNTIME_CLASSES_PATH) return pageOf(cluster.runtimeClasses, query);
    throw kubeApiError(404, `the audit fake has no ${path}`);
  });
  return Object.assign(client, {
    requestsTo: (path: string) => client.requests.filter((r) => r.path === path),
    holdPodLists: () => {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  });
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
