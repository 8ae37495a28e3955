import type { NodeSelectorRequirement, NodeSelectorTerm, Pod } from '../k8s/pod.ts';
import { asPlainObject } from '../util/shape.ts';
import { pointer, type PatchOperation } from '../util/json-pointer.ts';
import type { SchedulingConflict } from './node-selector.ts';

const REQUIRED = 'requiredDuringSchedulingIgnoredDuringExecution';

/**
 * Merge the profile's required node affinity into the pod. Terms are ORed and expressions within a term
 * ANDed, so the requirements go into every term: otherwise one term without them would let the pod land
 * on an ordinary node. A pod with no required terms gets one term holding just the requirements.
 */
export function planNodeAffinity(
  pod: Pod,
  wanted: readonly NodeSelectorRequirement[],
  profileName: string,
): { ops: PatchOperation[]; conflicts: SchedulingConflict[] } {
  if (wanted.length === 0) return { ops: [], conflicts: [] };
  const freshTerm = (): NodeSelectorTerm => ({ matchExpressions: wanted.map(copyRequirement) });
  const affinity = asPlainObject(pod.spec?.affinity);
  if (!affinity) {
    return { ops: [add(['spec', 'affinity'], { nodeAffinity: { [REQUIRED]: { nodeSelectorTerms: [freshTerm()] } } })], conflicts: [] };
  }
  const nodeAffinity = asPlainObject(affinity.nodeAffinity);
  if (!nodeAffinity) {
    return { ops: [add(['spec', 'affinity', 'nodeAffinity'], { [REQUIRED]: { nodeSelectorTerms: [freshTerm()] } })], conflicts: [] };
  }
  const required = asPlainObject(nodeAffinity[REQUIRED]);
  if (!required) {
    return { ops: [add(['spec', 'affinity', 'nodeAffinity', REQUIRED], { nodeSelectorTerms: [freshTerm()] })], conflicts: [] };
  }
  const terms = required.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) {
    return { ops: [add(['spec', 'affinity', 'nodeAffinity', REQUIRED, 'nodeSelectorTerms'], [freshTerm()])], conflicts: [] };
  }

  const ops: PatchOperation[] = [];
  const conflicts: SchedulingConflict[] = [];
  terms.forEach((rawTerm: unknown, i: number) => {
    const termPath = ['spec', 'affinity', 'nodeAffinity', REQUIRED, 'nodeSelectorTerms', i];
    const term = asPlainObject(rawTerm) as NodeSelectorTerm | undefined;
    const existing = Array.isArray(term?.matchExpressions) ? term.matchExpressions : undefined;
    const missing: NodeSelectorRequirement[] = [];
    for (const req of wanted) {
      const contradicting = (existing ?? []).find((e) => contradicts(e, req));
      if (contradicting) {
        conflicts.push({
          path: `spec.affinity.nodeAffinity.${REQUIRED}.nodeSelectorTerms[${i}]`,
          message: `node affinity term ${i} requires ${describe(contradicting)}, which can never hold together with ${describe(req)} that runtime profile "${profileName}" needs; drop that expression`,
        });
      } else if (!(existing ?? []).some((e) => sameRequirement(e, req))) {
        missing.push(copyRequirement(req));
      }
    }
    if (missing.length === 0) return;
    if (!term) ops.push({ op: 'replace', path: pointer(...termPath), value: { matchExpressions: missing } });
    else if (!existing) ops.push(add([...termPath, 'matchExpressions'], missing));
    else for (const req of missing) ops.push(add([...termPath, 'matchExpressions', '-'], req));
  });
  return { ops, conflicts };
}

/**
 * A nodeSelector entry is a required `key In [value]` that holds on every term, so one that contradicts the
 * profile's node affinity leaves the pod Pending forever: a conflict, named with both values.
 */
export function findNodeSelectorContradictions(
  pod: Pod,
  wanted: readonly NodeSelectorRequirement[],
  profileName: string,
): SchedulingConflict[] {
  const selector = asPlainObject(pod.spec?.nodeSelector);
  if (!selector || wanted.length === 0) return [];
  const conflicts: SchedulingConflict[] = [];
  for (const [key, value] of Object.entries(selector)) {
    const asRequirement: NodeSelectorRequirement = { key, operator: 'In', values: [String(value)] };
    const req = wanted.find((w) => contradicts(asRequirement, w));
    if (!req) continue;
    const only = req.operator === 'In' && valuesOf(req).length === 1 ? valuesOf(req)[0] : undefined;
    conflicts.push({
      path: `spec.nodeSelector[${JSON.stringify(key)}]`,
      message: `spec.nodeSelector["${key}"] is "${String(value)}" but runtime profile "${profileName}" needs node affinity ${describe(req)}; ${only === undefined ? 'remove that nodeSelector entry' : `remove that nodeSelector entry or set it to "${only}"`}`,
    });
  }
  return conflicts;
}

/** The patch must not share objects with the compiled policy; a requirement is flat, so a spread copy does. */
function copyRequirement(r: NodeSelectorRequirement): NodeSelectorRequirement {
  return r.values === undefined ? { ...r } : { ...r, values: [...r.values] };
}

function add(tokens: Array<string | number>, value: unknown): PatchOperation {
  return { op: 'add', path: pointer(...tokens), value };
}

const valuesOf = (r: NodeSelectorRequirement): string[] => (Array.isArray(r.values) ? r.values.map(String) : []);

export function sameRequirement(a: NodeSelectorRequirement, b: NodeSelectorRequirement): boolean {
  if (a.key !== b.key || a.operator !== b.operator) return false;
  const av = new Set(valuesOf(a));
  const bv = new Set(valuesOf(b));
  return av.size === bv.size && [...av].every((v) => bv.has(v));
}

/** True when no node label set can satisfy both requirements, for the operators where that is decidable by sets. */
export function contradicts(existing: NodeSelectorRequirement, wanted: NodeSelectorRequirement): boolean {
  if (existing.key !== wanted.key) return false;
  const ev = valuesOf(existing);
  const wv = valuesOf(wanted);
  switch (wanted.operator) {
    case 'In':
      if (existing.operator === 'In') return !ev.some((v) => wv.includes(v));
      if (existing.operator === 'NotIn') return wv.every((v) => ev.includes(v));
      return existing.operator === 'DoesNotExist';
    case 'NotIn':
      return existing.operator === 'In' && ev.every((v) => wv.includes(v));
    case 'Exists':
      return existing.operator === 'DoesNotExist';
    case 'DoesNotExist':
      return ['In', 'Exists', 'Gt', 'Lt'].includes(existing.operator);
    default:
      return false;
  }
}

function describe(r: NodeSelectorRequirement): string {
  const values = valuesOf(r);
  return values.length > 0 ? `${r.key} ${r.operator} [${values.join(', ')}]` : `${r.key} ${r.operator}`;
}
