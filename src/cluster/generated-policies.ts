/**
 * The generated ValidatingAdmissionPolicies and MutatingAdmissionPolicy in the cluster, by the generator's labels,
 * for the drift check (admission-policy-drift-check.ts). Apart from that pure check: this side needs the Kubernetes
 * client, which the webhook loads only in cluster mode.
 */
import { apiErrorCode, type KubeApiClient, type KubeList } from '../kube/api-client.ts';
import { POLICY_DIGEST_ANNOTATION } from '../policy/policy-digest.ts';
import { MAP_LABELS } from '../admission-policies/mutating-admission-policy.ts';
import { VAP_LABELS } from '../admission-policies/validating-admission-policy.ts';
import type { GeneratedPolicy } from './admission-policy-drift-check.ts';

/**
 * The generated admission policies in the cluster, found by the labels `render vap` and `render map` put on them:
 * the ValidatingAdmissionPolicies, and the MutatingAdmissionPolicy where the API server serves it (a cluster
 * without the v1 API has none to be stale).
 */
export function listGeneratedPolicies(client: KubeApiClient): () => Promise<GeneratedPolicy[]> {
  const selector = (labels: Readonly<Record<string, string>>) =>
    Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  type Listed = { metadata?: { name?: string; annotations?: Record<string, string> } };
  const list = (plural: string, labels: Readonly<Record<string, string>>) =>
    client.request<KubeList<Listed>>({
      method: 'GET',
      path: `/apis/admissionregistration.k8s.io/v1/${plural}`,
      query: { labelSelector: selector(labels) },
    });
  const generated = (p: Listed): GeneratedPolicy => ({
    name: p.metadata?.name ?? '',
    digest: p.metadata?.annotations?.[POLICY_DIGEST_ANNOTATION],
  });
  const listMutating = async (): Promise<GeneratedPolicy[]> => {
    try {
      return (await list('mutatingadmissionpolicies', MAP_LABELS)).items.map(generated);
    } catch (error) {
      if (apiErrorCode(error) === 404) return [];
      throw error;
    }
  };
  return async () => {
    const validating = await list('validatingadmissionpolicies', VAP_LABELS);
    return [...validating.items.map(generated), ...(await listMutating())];
  };
}
