import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { LeaseRecord, LeaseStore, StoredLease } from './leader-election.ts';

/** MicroTime that serialises with the six fraction digits the API server parses (client-node sends the Date's JSON). */
class MicroTime extends Date {
  override toISOString(): string {
    return `${super.toISOString().slice(0, -1)}000Z`;
  }
}

/**
 * The Lease `name` in `namespace` through the coordination.k8s.io/v1 API: get, create, and replace (conditional on
 * the resourceVersion it carries: the API server refuses a stale one with 409). RBAC: leases get/create/update in
 * that namespace (manifests/base/rbac.yaml).
 */
export function createKubernetesLeaseStore(kubeConfig: KubeConfig, target: { namespace: string; name: string }): LeaseStore {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace, name } = target;
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
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
      ...(record.acquireTime ? { acquireTime: new MicroTime(record.acquireTime) } : {}),
      ...(record.renewTime ? { renewTime: new MicroTime(record.renewTime) } : {}),
    },
  });
  return {
    get: async () => {
      try {
        return toStored(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return undefined;
        throw error;
      }
    },
    create: async (record) => toStored(await api.createNamespacedLease({ namespace, body: body(record) })),
    update: async (record, resourceVersion) =>
      toStored(await api.replaceNamespacedLease({ name, namespace, body: body(record, resourceVersion) })),
  };
}

function toStored(lease: V1Lease): StoredLease {
  const time = (t: unknown): string | undefined =>
    t === undefined || t === null ? undefined : t instanceof Date ? t.toISOString() : String(t);
  const acquireTime = time(lease.spec?.acquireTime);
  const renewTime = time(lease.spec?.renewTime);
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
