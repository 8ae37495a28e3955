/**
 * The calls a reconciler of generated objects makes, as plain REST: list by label, server-side apply under one field
 * manager (forced: the generator's fields are its own), replace, delete. Errors are thrown (KubeApiError, with the
 * HTTP code). The kinds it can write are those of src/kube/resource-paths.ts.
 */
import { apiErrorCode, type KubeApiClient, type KubeList, type KubeObject, type ObjectMeta } from '../kube/api-client.ts';
import { resourcePath } from '../kube/resource-paths.ts';

/** The field manager of every write sandbox-admission makes to generated objects: `managedFields` shows it. */
export const FIELD_MANAGER = 'sandbox-admission';

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: unknown;
}

export interface LiveObject extends KubeObject {
  metadata?: ObjectMeta & { managedFields?: ManagedFieldsEntry[] };
}

/** What the writer sends: an object that names its own apiVersion, kind and name (the rest is sent as it is). */
export interface WritableObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ObjectWriter {
  list(apiVersion: string, kind: string, labelSelector: string, namespace?: string): Promise<LiveObject[]>;
  /** Server-side apply, forced, under FIELD_MANAGER: creates or updates; unchanged content writes nothing. */
  apply(object: WritableObject): Promise<LiveObject>;
  /** Replace (PUT) conditional on object.metadata.resourceVersion. */
  replace(object: WritableObject): Promise<LiveObject>;
  delete(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<void>;
}

/** Objects per list request: a page of generated policies or reports stays small. */
const LIST_PAGE_SIZE = 500;

export function createObjectWriter(client: KubeApiClient): ObjectWriter {
  const objectPath = (object: WritableObject): string => {
    const { apiVersion, kind } = object;
    const name = object.metadata?.name;
    if (!apiVersion || !kind || !name)
      throw new Error(`cannot write an object without apiVersion, kind and metadata.name (${apiVersion} ${kind} ${name})`);
    return resourcePath(apiVersion, kind, object.metadata?.namespace, name);
  };
  return {
    list: async (apiVersion, kind, labelSelector, namespace) => {
      const path = resourcePath(apiVersion, kind, namespace);
      const items: LiveObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.request<KubeList<LiveObject>>({
          method: 'GET',
          path,
          query: { labelSelector, limit: LIST_PAGE_SIZE, continue: token },
        });
        // List items carry no apiVersion/kind; the caller asked for these.
        for (const item of page.items) items.push({ ...item, apiVersion, kind });
        token = page.metadata?.continue || undefined;
      } while (token);
      return items;
    },
    apply: async (object) =>
      client.request<LiveObject>({
        method: 'PATCH',
        path: objectPath(object),
        query: { fieldManager: FIELD_MANAGER, force: true },
        contentType: 'application/apply-patch+yaml',
        // JSON is YAML: the apply content type takes either.
        body: object,
      }),
    replace: async (object) =>
      client.request<LiveObject>({ method: 'PUT', path: objectPath(object), query: { fieldManager: FIELD_MANAGER }, body: object }),
    delete: async (object) => {
      try {
        await client.request({ method: 'DELETE', path: objectPath(object) });
      } catch (error) {
        // Already gone is what we wanted.
        if (apiErrorCode(error) !== 404) throw error;
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
