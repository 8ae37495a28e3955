// The webhook's own ServiceAccount and the RBAC the manifests grant it, so a test proves the product works with
// exactly those permissions: the admin credentials impersonate the ServiceAccount's user name, which RBAC matches.
import * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { impersonating } from './api-assertions.ts';
import { readManifests } from './webhook.ts';

export const WEBHOOK_SERVICE_ACCOUNT = 'system:serviceaccount:sandbox-admission:sandbox-admission';

/** Every RBAC object of the given manifest files (default manifests/base/rbac.yaml), created as they are. */
export async function applyManifestRbac(kc: k8s.KubeConfig, files: readonly string[] = ['manifests/base/rbac.yaml']): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const file of files) {
    for (const doc of readManifests(file)) {
      if ((doc.apiVersion as string).startsWith('rbac.authorization.k8s.io/')) await objects.create(doc as k8s.KubernetesObject);
    }
  }
}

/** A kubeconfig (object and file in `dir`) that acts as the webhook's ServiceAccount. */
export function serviceAccountKubeConfig(admin: k8s.KubeConfig, dir: string): { kubeConfig: k8s.KubeConfig; path: string } {
  const kubeConfig = impersonating(admin, WEBHOOK_SERVICE_ACCOUNT);
  const path = join(dir, 'service-account.kubeconfig');
  writeFileSync(path, kubeConfig.exportConfig(), { mode: 0o600 });
  return { kubeConfig, path };
}
