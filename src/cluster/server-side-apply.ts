/**
 * The calls a reconciler of generated objects makes, through client-node's generic object API: list by label,
 * server-side apply under one field manager (forced: the generator's fields are its own), replace, delete.
 * Errors are thrown (client-node ApiException, with the HTTP code).
 */
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

/** The field manager of every write sandbox-admission makes to generated objects: `managedFields` shows it. */
export const FIELD_MANAGER = 'sandbox-admission';

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: unknown;
}

export interface LiveObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
  };
  [key: string]: unknown;
}

export interface ObjectWriter {
  list(apiVersion: string, kind: string, labelSelector: string, namespace?: string): Promise<LiveObject[]>;
  /** Server-side apply, forced, under FIELD_MANAGER: creates or updates; unchanged content writes nothing. */
  apply(object: KubernetesObject): Promise<LiveObject>;
  /** Replace (PUT) conditional on object.metadata.resourceVersion. */
  replace(object: KubernetesObject): Promise<LiveObject>;
  delete(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<void>;
}

export function createObjectWriter(kubeConfig: KubeConfig): ObjectWriter {
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  return {
    list: async (apiVersion, kind, labelSelector, namespace) => {
      const items: LiveObject[] = [];
      let token: string | undefined;
      do {
        const page = await api.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector, 500, token);
        // List items carry no apiVersion/kind; the caller asked for these.
        for (const item of page.items) items.push({ ...(item as LiveObject), apiVersion, kind });
        token = page.metadata?._continue || undefined;
      } while (token);
      return items;
    },
    apply: async (object) =>
      (await api.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply)) as LiveObject,
    replace: async (object) => (await api.replace(object, undefined, undefined, FIELD_MANAGER)) as LiveObject,
    delete: async (object) => {
      try {
        await api.delete(object as KubernetesObject);
      } catch (error) {
        // Already gone is what we wanted.
        if ((error as { code?: unknown }).code !== 404) throw error;
      }
    },
  };
}

/** "k=v,k2=v2" for a label selector. */
export function formatLabelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * Field paths under `spec` that some other manager set and FIELD_MANAGER does not own: what an apply cannot take
 * back (a matchCondition, matchResources or auditAnnotation someone added), so a replace must. Fields both own (the
 * install's own `kubectl apply` of the same values) are not drift. Paths as fieldsV1 spells them, joined with '/'.
 */
export function foreignSpecFields(managedFields: readonly ManagedFieldsEntry[] | undefined, fieldManager = FIELD_MANAGER): string[] {
  const ours = new Set<string>();
  const theirs = new Set<string>();
  for (const entry of managedFields ?? []) {
    const spec = (entry.fieldsV1 as Record<string, unknown> | undefined)?.['f:spec'];
    if (spec === undefined) continue;
    for (const path of leafPaths(spec, 'f:spec')) (entry.manager === fieldManager ? ours : theirs).add(path);
  }
  const oursList = [...ours];
  return (
    [...theirs]
      .filter((path) => !ours.has(path))
      // Owned by us as a whole (an atomic list or map), or we own something inside it: not theirs alone.
      .filter((path) => !oursList.some((o) => path.startsWith(`${o}/`) || o.startsWith(`${path}/`)))
      .sort()
  );
}

function leafPaths(node: unknown, path: string): string[] {
  if (node === null || typeof node !== 'object') return [path];
  const keys = Object.keys(node).filter((k) => k !== '.');
  if (keys.length === 0) return [path];
  return keys.flatMap((k) => leafPaths((node as Record<string, unknown>)[k], `${path}/${k}`));
}
