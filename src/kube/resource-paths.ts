/**
 * The REST path of the kinds sandbox-admission writes generically (ObjectWriter): the generated admission
 * policies and the PolicyReports. A static table instead of API discovery: one list call per kind saved at start,
 * and a kind nobody planned for is a programming error worth a clear message, not a discovery round trip.
 */

interface ResourceType {
  /** The plural resource name in the path. */
  plural: string;
  namespaced: boolean;
}

const RESOURCE_TYPES: Readonly<Record<string, Readonly<Record<string, ResourceType>>>> = {
  'admissionregistration.k8s.io/v1': {
    ValidatingAdmissionPolicy: { plural: 'validatingadmissionpolicies', namespaced: false },
    ValidatingAdmissionPolicyBinding: { plural: 'validatingadmissionpolicybindings', namespaced: false },
    MutatingAdmissionPolicy: { plural: 'mutatingadmissionpolicies', namespaced: false },
    MutatingAdmissionPolicyBinding: { plural: 'mutatingadmissionpolicybindings', namespaced: false },
  },
  'wgpolicyk8s.io/v1alpha2': {
    PolicyReport: { plural: 'policyreports', namespaced: true },
  },
};

/**
 * The collection path of `kind` (`/apis/<group>/<version>[/namespaces/<ns>]/<plural>`), or of one object when
 * `name` is given. Without a namespace, a namespaced kind's path lists across all namespaces.
 */
export function resourcePath(apiVersion: string, kind: string, namespace?: string, name?: string): string {
  const type = RESOURCE_TYPES[apiVersion]?.[kind];
  if (type === undefined) {
    const known = Object.entries(RESOURCE_TYPES).flatMap(([version, kinds]) => Object.keys(kinds).map((k) => `${version} ${k}`));
    throw new Error(`no REST path known for ${apiVersion} ${kind}; add it to src/kube/resource-paths.ts (known: ${known.join(', ')})`);
  }
  if (!type.namespaced && namespace !== undefined) throw new Error(`${kind} is cluster-scoped; it has no namespace (got "${namespace}")`);
  if (type.namespaced && name !== undefined && namespace === undefined) throw new Error(`${kind} "${name}" needs a namespace`);
  const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${prefix}${scope}/${type.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}
