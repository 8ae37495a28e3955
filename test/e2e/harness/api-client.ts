// The product's own API client (src/kube/) for a kubeconfig the harness wrote: what `serve --kubeconfig` uses.
import type { KubeApiClient } from '../../../src/kube/api-client.ts';
import { createHttpsClient } from '../../../src/kube/https-client.ts';
import { loadClusterConnection } from '../../../src/kube/kube-config.ts';

/** `impersonate`: every request is made as that user (the admin's Impersonate-User header), as `kubectl --as`. */
export async function productApiClient(kubeconfigPath: string, options: { impersonate?: string } = {}): Promise<KubeApiClient> {
  const connection = await loadClusterConnection({ path: kubeconfigPath });
  const user = options.impersonate;
  return createHttpsClient(
    user === undefined
      ? connection
      : {
          ...connection,
          requestOptions: async () => {
            const base = await connection.requestOptions();
            return { ...base, headers: { ...base.headers, 'Impersonate-User': user } };
          },
        },
    { userAgent: 'sandbox-admission-e2e' },
  );
}
