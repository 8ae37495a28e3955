import fjp from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { decide } from '../decision/decide.ts';
import type { Decision } from '../decision/types.ts';
import { formatCodedError } from '../errors.ts';
import type { Pod } from '../k8s/pod.ts';
import { extractPod } from '../k8s/workloads.ts';
import type { Policy } from '../policy/types.ts';
import { isPlainObject } from '../util/shape.ts';
import type { ManifestDocument } from './manifest.ts';

export type EvaluationResult = 'allowed' | 'patched' | 'denied' | 'warned' | 'skipped' | 'error';

export interface Evaluation {
  object: string;
  /** The input it came from: a path, or `-` for stdin. */
  file?: string;
  document: number;
  namespace: string;
  /**
   * patched (admitted with a patch), allowed (unchanged), denied, warned (admitted unchanged only because the
   * rule is in warn or audit mode: enforce would deny it), skipped (holds no pod) or error (unreadable).
   */
  result: EvaluationResult;
  /** Why, in a few words: the rule that decided, "not governed", "exempt", what a skipped object is. */
  reason: string;
  rule?: string;
  source?: Decision['source'];
  action?: Decision['action'];
  mode?: Decision['mode'];
  runtimeClassName?: string;
  message?: string;
  warnings?: string[];
  violations?: Array<{ kind: string; message: string; paths: string[] }>;
  patch?: unknown[];
  mutated?: unknown;
}

export interface EvaluateOptions {
  policy: Policy;
  defaultNamespace: string;
  namespaceLabels: ReadonlyMap<string, Record<string, string>>;
}

/** The label the API server puts on every namespace (the NamespaceDefaultLabelName feature). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * The labels of the `kind: Namespace` objects in the input, as the API server would store them (with
 * kubernetes.io/metadata.name), overlaid key by key with `overrides` (the command line's --namespace-labels).
 */
export function collectNamespaceLabels(
  documents: readonly ManifestDocument[],
  overrides: ReadonlyMap<string, Record<string, string>>,
): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const doc of documents) {
    if (!isNamespaceObject(doc.value)) continue;
    const metadata = doc.value.metadata as Record<string, unknown>;
    const name = metadata.name as string;
    const labels = isPlainObject(metadata.labels) ? metadata.labels : {};
    const strings = Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    out.set(name, { ...out.get(name), ...strings, [NAMESPACE_NAME_LABEL]: name });
  }
  for (const [name, labels] of overrides) out.set(name, { ...(out.get(name) ?? { [NAMESPACE_NAME_LABEL]: name }), ...labels });
  return out;
}

function isNamespaceObject(value: unknown): value is Record<string, unknown> {
  return (
    isPlainObject(value) &&
    value.kind === 'Namespace' &&
    isPlainObject(value.metadata) &&
    typeof value.metadata.name === 'string' &&
    value.metadata.name !== ''
  );
}

/**
 * The webhook's own decision for each pod and pod template in a manifest, as the API server would ask for it:
 * a CREATE of the pod the controller makes, in the object's namespace. Templates are shown mutated, which is
 * what their pods will look like; the webhook itself never mutates templates.
 */
export function evaluateManifests(documents: ManifestDocument[], options: EvaluateOptions): Evaluation[] {
  return documents.map((doc): Evaluation => {
    const at = { ...(doc.file !== undefined ? { file: doc.file } : {}), document: doc.index };
    if (doc.error) {
      const message = formatCodedError(doc.error);
      return { object: `document ${doc.index}`, ...at, namespace: '', result: 'error', reason: message, message };
    }
    const object = doc.value;
    if (!isPlainObject(object)) {
      const message = 'not a Kubernetes object (expected a mapping with kind)';
      return { object: `document ${doc.index}`, ...at, namespace: '', result: 'error', reason: message, message };
    }
    const source = extractPod(object);
    if (!source) {
      const meta = isPlainObject(object.metadata) ? object.metadata : {};
      const kind = String(object.kind ?? '<no kind>');
      const reason = isNamespaceObject(object)
        ? 'a Namespace: its labels are used for the objects in it'
        : `holds no pod template (kind ${kind})`;
      return { object: `${kind}/${String(meta.name ?? '<unnamed>')}`, ...at, namespace: '', result: 'skipped', reason };
    }
    const namespace = source.namespace ?? options.defaultNamespace;
    const decision = decide({
      operation: 'CREATE',
      namespace,
      pod: source.pod,
      namespaceFacts: { name: namespace, labels: options.namespaceLabels.get(namespace) ?? {} },
      policy: options.policy,
    });
    let mutatedPod: unknown;
    try {
      mutatedPod = fjp.applyPatch(structuredClone(source.pod), decision.patch as Operation[], true, false).newDocument;
    } catch (cause) {
      // A defect, not bad input: say so for this object and go on with the others.
      const message = `internal error applying the patch: ${(cause as Error).message}`;
      return { object: source.ref, ...at, namespace, result: 'error', reason: message, message };
    }
    const prefix = source.fieldPrefix;
    const result = resultOf(decision);
    return {
      object: source.ref,
      ...at,
      namespace,
      result,
      reason: describeReason(decision, result),
      ...(decision.rule ? { rule: decision.rule } : {}),
      source: decision.source,
      action: decision.action,
      mode: decision.mode,
      ...(decision.runtimeClassName ? { runtimeClassName: decision.runtimeClassName } : {}),
      ...(decision.message ? { message: decision.message } : {}),
      warnings: decision.warnings,
      violations: decision.violations.map((v) => ({ kind: v.kind, message: v.message, paths: v.paths.map((p) => prefix + p) })),
      patch: decision.patch,
      mutated: source.rebuild(mutatedPod as Pod),
    };
  });
}

function resultOf(decision: Decision): EvaluationResult {
  if (!decision.allowed) return 'denied';
  if (decision.violations.length > 0) return 'warned';
  return decision.patch.length > 0 ? 'patched' : 'allowed';
}

function describeReason(decision: Decision, result: EvaluationResult): string {
  if (result === 'denied' || result === 'warned') return `${decision.reason}: ${decision.violations.map((v) => v.message).join('; ')}`;
  switch (decision.source) {
    case 'not-governed':
      return 'not governed: no rule matches and no namespace label applies';
    case 'exempt-namespace':
    case 'mirror-pod':
      return `exempt: ${decision.reason}`;
    default:
      return decision.action === 'exempt' ? `exempt: ${decision.reason}` : decision.reason;
  }
}
