import { apiErrorCode, type KubeApiClient } from '../kube/api-client.ts';
import { formatMicroTime, type LeaseRecord, type LeaseStore, type StoredLease } from './leader-election.ts';

interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    leaseTransitions?: number;
    acquireTime?: string;
    renewTime?: string;
  };
}

/**
 * The Lease `name` in `namespace` through the coordination.k8s.io/v1 API: get, create, and replace (conditional on
 * the resourceVersion it carries: the API server refuses a stale one with 409). RBAC: leases get/create/update in
 * that namespace (manifests/base/rbac.yaml).
 */
export function createKubernetesLeaseStore(client: KubeApiClient, target: { namespace: string; name: string }): LeaseStore {
  const { namespace, name } = target;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const body = (record: LeaseRecord, resourceVersion?: string): LeaseObject => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'sandbox-admission' },
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      leaseTransitions: record.leaseTransitions,
      ...(record.acquireTime ? { acquireTime: toMicroTime(record.acquireTime) } : {}),
      ...(record.renewTime ? { renewTime: toMicroTime(record.renewTime) } : {}),
    },
  });
  return {
    get: async () => {
      try {
        return toStored(await client.request<LeaseObject>({ method: 'GET', path }));
      } catch (error) {
        if (apiErrorCode(error) === 404) return undefined;
        throw error;
      }
    },
    create: async (record) => toStored(await client.request<LeaseObject>({ method: 'POST', path: collection, body: body(record) })),
    update: async (record, resourceVersion) =>
      toStored(await client.request<LeaseObject>({ method: 'PUT', path, body: body(record, resourceVersion) })),
  };
}

/** Six fraction digits whatever the record holds: the API server refuses a MicroTime without them. */
function toMicroTime(time: string): string {
  return formatMicroTime(Date.parse(time));
}

function toStored(lease: LeaseObject): StoredLease {
  const acquireTime = lease.spec?.acquireTime ?? undefined;
  const renewTime = lease.spec?.renewTime ?? undefined;
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: lease.spec?.holderIdentity ?? '',
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
      leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      ...(acquireTime ? { acquireTime } : {}),
      ...(renewTime ? { renewTime } : {}),
    },
  };
}
