import type { Pod } from '../k8s/pod.ts';
import { parseImageLocation } from './image-ref.ts';
import type { MatchSubject } from './types.ts';

/**
 * Gather what rules match on, coercing values so a manifest's `tier: 1` still compares as the string "1".
 * The namespace comes from the AdmissionRequest, never from the pod: controller-made pods may carry none.
 */
export function buildMatchSubject(namespace: string, namespaceLabels: Readonly<Record<string, string>>, pod: Pod): MatchSubject {
  const spec = pod.spec ?? {};
  return {
    namespace,
    namespaceLabels,
    podLabels: stringMap(pod.metadata?.labels),
    serviceAccount: nonEmpty(spec.serviceAccountName) ?? nonEmpty(spec.serviceAccount) ?? 'default',
    images: imagesOf(pod).map(parseImageLocation),
  };
}

export function imagesOf(pod: Pod): string[] {
  const spec = pod.spec ?? {};
  const images: string[] = [];
  for (const list of [spec.initContainers, spec.containers, spec.ephemeralContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) if (c && typeof c.image === 'string' && c.image !== '') images.push(c.image);
  }
  return images;
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
