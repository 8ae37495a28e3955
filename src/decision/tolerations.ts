import type { Pod, Toleration } from '../k8s/pod.ts';
import { pointer, type PatchOperation } from '../util/json-pointer.ts';

const operatorOf = (t: Toleration): string => (t.operator === undefined || t.operator === '' ? 'Equal' : t.operator);

/**
 * Whether `existing` tolerates everything `wanted` tolerates: the upstream rule from
 * k8s.io/kubernetes pkg/util/tolerations (an empty key with Exists tolerates every key, an empty effect
 * every effect, Exists any value; a NoExecute time limit must be no shorter).
 */
export function toleratesAllOf(existing: Toleration, wanted: Toleration): boolean {
  const key = existing.key ?? '';
  if (key !== (wanted.key ?? '') && !(key === '' && operatorOf(existing) === 'Exists')) return false;
  const effect = existing.effect ?? '';
  if (effect !== '' && effect !== (wanted.effect ?? '')) return false;
  if (effect === 'NoExecute' && existing.tolerationSeconds !== undefined && existing.tolerationSeconds !== null) {
    if (wanted.tolerationSeconds === undefined || wanted.tolerationSeconds > existing.tolerationSeconds) return false;
  }
  switch (operatorOf(existing)) {
    case 'Exists':
      return true;
    case 'Equal':
      return operatorOf(wanted) === 'Equal' && (existing.value ?? '') === (wanted.value ?? '');
    default:
      return false;
  }
}

/** Append the profile's tolerations the pod does not already have (or a broader one). */
export function planTolerations(pod: Pod, wanted: readonly Toleration[]): PatchOperation[] {
  const raw = pod.spec?.tolerations;
  const existing = Array.isArray(raw) ? raw.filter((t): t is Toleration => !!t && typeof t === 'object') : [];
  const missing: Toleration[] = [];
  for (const t of wanted) {
    if (![...existing, ...missing].some((e) => toleratesAllOf(e, t))) missing.push(t);
  }
  if (missing.length === 0) return [];
  if (!Array.isArray(raw)) return [{ op: 'add', path: pointer('spec', 'tolerations'), value: missing.map(clone) }];
  return missing.map((t) => ({ op: 'add', path: pointer('spec', 'tolerations', '-'), value: clone(t) }));
}

/** The patch must not share objects with the compiled policy; a toleration is flat, so a spread copy does. */
const clone = (t: Toleration): Toleration => ({ ...t });
