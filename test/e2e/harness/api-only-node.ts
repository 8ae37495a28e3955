// A Node object with no kubelet behind it: the ordinary node pool of the node suite (one kubelet per machine).
// The node lifecycle controller only keeps a node Ready (and without the node.kubernetes.io/not-ready taint that
// node admission puts on every new Node) while its Lease in kube-node-lease is renewed, so this renews it the way
// a kubelet does, and reports a Ready status once. Pods bound here are scheduled but never run.
import * as k8s from '@kubernetes/client-node';

export interface ApiOnlyNode {
  name: string;
  stop(): void;
}

const LEASE_SECONDS = 40;
const RENEW_MS = 5_000;

export async function createApiOnlyNode(kc: k8s.KubeConfig, name: string, labels: Record<string, string> = {}): Promise<ApiOnlyNode> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const node = await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } } });
  const capacity = { cpu: '8', memory: '32Gi', pods: '110' };
  const now = new Date();
  await core.patchNodeStatus(
    {
      name,
      body: {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'API-only node of the e2e suite',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  );
  const lease = (renewTime: k8s.V1MicroTime): k8s.V1Lease => ({
    metadata: { name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata!.uid! }] },
    spec: { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime },
  });
  await coordination.createNamespacedLease({ namespace: 'kube-node-lease', body: lease(new k8s.V1MicroTime()) });
  const timer = setInterval(() => {
    coordination
      .patchNamespacedLease(
        { name, namespace: 'kube-node-lease', body: { spec: { renewTime: new k8s.V1MicroTime().toISOString() } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      )
      .catch(() => undefined); // a missed renewal is retried in 5 s; the lease lasts 40
  }, RENEW_MS);
  timer.unref();
  return { name, stop: () => clearInterval(timer) };
}
