/**
 * The generated ValidatingAdmissionPolicies and MutatingAdmissionPolicy in the cluster, by the generator's labels,
 * for the drift check (admission-policy-drift-check.ts). Apart from that pure check: this side needs the Kubernetes
 * client, which the webhook loads only in cluster mode.
 */
import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { POLICY_DIGEST_ANNOTATION } from '../policy/policy-digest.ts';
import { MAP_LABELS } from '../admission-policies/mutating-admission-policy.ts';
import { VAP_LABELS } from '../admission-policies/validating-admission-policy.ts';
import type { GeneratedPolicy } from './admission-policy-drift-check.ts';

/**
 * The generated admission policies in the cluster, found by the labels `render vap` and `render map` put on them:
 * the ValidatingAdmissionPolicies, and the MutatingAdmissionPolicy where the API server serves it (a cluster
 * without the v1 API has none to be stale).
 */
export function listGeneratedPolicies(kubeConfig: KubeConfig): () => Promise<GeneratedPolicy[]> {
  const client = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const selector = (labels: Readonly<Record<string, string>>) =>
    Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  const generated = (p: { metadata?: { name?: string; annotations?: Record<string, string> } }): GeneratedPolicy => ({
    name: p.metadata?.name ?? '',
    digest: p.metadata?.annotations?.[POLICY_DIGEST_ANNOTATION],
  });
  const listMutating = async (): Promise<GeneratedPolicy[]> => {
    try {
      return (await client.listMutatingAdmissionPolicy({ labelSelector: selector(MAP_LABELS) })).items.map(generated);
    } catch (error) {
      if ((error as { code?: unknown })?.code === 404) return [];
      throw error;
    }
  };
  return async () => {
    const list = await client.listValidatingAdmissionPolicy({ labelSelector: selector(VAP_LABELS) });
    return [...list.items.map(generated), ...(await listMutating())];
  };
}
