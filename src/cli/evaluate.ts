import fjp from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { decide } from '../decision/decide.ts';
import type { Decision } from '../decision/types.ts';
import { formatCodedError } from '../errors.ts';
import type { Pod } from '../k8s/pod.ts';
import { extractPod } from '../k8s/workloads.ts';
import type { Policy } from '../policy/types.ts';
import type { ManifestDocument } from './manifest.ts';

export interface Evaluation {
  object: string;
  document: number;
  namespace: string;
  /** allowed (unchanged), patched, denied, skipped (holds no pod) or error (unreadable). */
  result: 'allowed' | 'patched' | 'denied' | 'skipped' | 'error';
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

/**
 * The webhook's own decision for each pod and pod template in a manifest, as the API server would ask for it:
 * a CREATE of the pod the controller makes, in the object's namespace. Templates are shown mutated, which is
 * what their pods will look like; the webhook itself never mutates templates.
 */
export function evaluateManifests(documents: ManifestDocument[], options: EvaluateOptions): Evaluation[] {
  return documents.map((doc): Evaluation => {
    if (doc.error)
      return { object: `document ${doc.index}`, document: doc.index, namespace: '', result: 'error', message: formatCodedError(doc.error) };
    const object = doc.value;
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      return {
        object: `document ${doc.index}`,
        document: doc.index,
        namespace: '',
        result: 'error',
        message: 'not a Kubernetes object (expected a mapping with kind)',
      };
    }
    const record = object as Record<string, unknown>;
    const source = extractPod(record);
    if (!source) {
      const meta = record.metadata as { name?: string } | undefined;
      return {
        object: `${String(record.kind ?? '<no kind>')}/${meta?.name ?? '<unnamed>'}`,
        document: doc.index,
        namespace: '',
        result: 'skipped',
      };
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
      return {
        object: source.ref,
        document: doc.index,
        namespace,
        result: 'error',
        message: `internal error applying the patch: ${(cause as Error).message}`,
      };
    }
    const prefix = source.fieldPrefix;
    return {
      object: source.ref,
      document: doc.index,
      namespace,
      result: !decision.allowed ? 'denied' : decision.patch.length > 0 ? 'patched' : 'allowed',
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
