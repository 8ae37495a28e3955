import { isPlainObject } from '../util/shape.ts';
import type { ObjectMeta, Pod, PodSpec } from './pod.ts';

/** Where a kind keeps its pod template. Kinds are matched by name only, so old API versions (extensions/v1beta1, batch/v1beta1) work too. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

export interface PodSource {
  /** `Deployment/web`, for messages. */
  ref: string;
  namespace: string | undefined;
  /** The pod as the controller would create it (template metadata and spec). */
  pod: Pod;
  /** Put a changed pod back where it came from, returning a changed copy of the object. */
  rebuild(pod: Pod): Record<string, unknown>;
  /** Prefix that turns a pod field path into the object's path (`spec.template.`), for messages. */
  fieldPrefix: string;
}

/** The pod a manifest object describes, or undefined when the object holds no pod. */
export function extractPod(object: Record<string, unknown>): PodSource | undefined {
  const kind = typeof object.kind === 'string' ? object.kind : '';
  const metadata = (isPlainObject(object.metadata) ? object.metadata : {}) as ObjectMeta;
  const ref = `${kind}/${metadata.name ?? metadata.generateName ?? '<unnamed>'}`;
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined;
  if (kind === 'Pod') {
    return { ref, namespace, pod: structuredClone(object) as Pod, rebuild: (pod) => pod as Record<string, unknown>, fieldPrefix: '' };
  }
  const path = TEMPLATE_PATHS[kind];
  if (!path) return undefined;
  const template = getPath(object, path);
  if (!isPlainObject(template)) return undefined;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: structuredClone((template.metadata ?? {}) as ObjectMeta),
    spec: structuredClone((template.spec ?? {}) as PodSpec),
  };
  return {
    ref,
    namespace,
    pod,
    fieldPrefix: `${path.join('.')}.`,
    rebuild: (changed) => {
      const copy = structuredClone(object);
      const target = getPath(copy, path) as Record<string, unknown>;
      if (changed.metadata && Object.keys(changed.metadata).length > 0) target.metadata = changed.metadata;
      target.spec = changed.spec;
      return copy;
    },
  };
}

/** Flatten `kind: List` (what `kubectl get -o yaml` prints) into its items. */
export function flattenLists(objects: unknown[]): unknown[] {
  return objects.flatMap((o) =>
    isPlainObject(o) && typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items) ? flattenLists(o.items) : [o],
  );
}

function getPath(object: unknown, path: readonly string[]): unknown {
  let current = object;
  for (const key of path) {
    if (!isPlainObject(current)) return undefined;
    current = current[key];
  }
  return current;
}
