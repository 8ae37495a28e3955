import type { Pod } from '../k8s/pod.ts';
import { isPlainObject } from '../util/shape.ts';
import { pointer, type PatchOperation } from '../util/json-pointer.ts';

export interface SchedulingConflict {
  /** kubectl-style path of the pod field that contradicts the profile. */
  path: string;
  message: string;
}

/** Add the profile's nodeSelector entries; a key the pod already sets to another value is a conflict, never overwritten. */
export function planNodeSelector(
  pod: Pod,
  wanted: Readonly<Record<string, string>>,
  profileName: string,
): { ops: PatchOperation[]; conflicts: SchedulingConflict[] } {
  const raw = pod.spec?.nodeSelector;
  const existing = isPlainObject(raw) ? raw : undefined;
  const missing: Record<string, string> = {};
  const conflicts: SchedulingConflict[] = [];
  for (const [key, value] of Object.entries(wanted)) {
    if (existing && Object.hasOwn(existing, key)) {
      if (existing[key] !== value) {
        conflicts.push({
          path: `spec.nodeSelector[${JSON.stringify(key)}]`,
          message: `spec.nodeSelector["${key}"] is "${String(existing[key])}" but runtime profile "${profileName}" needs "${value}"; remove that nodeSelector entry or set it to "${value}"`,
        });
      }
    } else {
      missing[key] = value;
    }
  }
  const keys = Object.keys(missing);
  if (keys.length === 0) return { ops: [], conflicts };
  if (!existing) return { ops: [{ op: 'add', path: pointer('spec', 'nodeSelector'), value: missing }], conflicts };
  return { ops: keys.map((k) => ({ op: 'add', path: pointer('spec', 'nodeSelector', k), value: missing[k] })), conflicts };
}
