// Namespaces for e2e tests on the bare harness cluster.
//
// Choice: keep the ServiceAccount admission plugin enabled (a real cluster has
// it, and it mutates pods before our webhook sees them) and create the
// `default` ServiceAccount ourselves, since there is no controller-manager to
// do it. Without that account every pod create fails with
// 'serviceaccount "default" not found'. Tokens need nothing more: the plugin
// only adds a projected token volume, which is never resolved without a kubelet.
import * as k8s from '@kubernetes/client-node';

export async function createNamespace(kc: k8s.KubeConfig, name: string, labels: Record<string, string> = {}): Promise<k8s.V1Namespace> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const ns = await core.createNamespace({ body: { metadata: { name, labels } } });
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  return ns;
}
