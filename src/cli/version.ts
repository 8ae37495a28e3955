import { readPackageVersion } from '../main/paths.ts';

export { readPackageVersion };

/** The kube-apiserver the end-to-end suite runs (tools/k8s/go.mod; a test holds the two together). */
export const KUBERNETES_TESTED_VERSION = 'v1.37.2';
/** The oldest Kubernetes the default flavours need (the generated ValidatingAdmissionPolicy's CEL functions). */
export const KUBERNETES_MINIMUM_VERSION = '1.34';
/** The oldest for manifests/base alone (webhook matchConditions, the preStop sleep action). */
export const KUBERNETES_MINIMUM_BASE_VERSION = '1.30';

/** What `--version` and `version` print. */
export function formatVersion(): string {
  return [
    `sandbox-admission ${readPackageVersion()}`,
    `kubernetes: tested with kube-apiserver ${KUBERNETES_TESTED_VERSION}; needs ${KUBERNETES_MINIMUM_VERSION} or newer (${KUBERNETES_MINIMUM_BASE_VERSION} for manifests/base alone)`,
    `node: ${process.version}`,
  ].join('\n');
}
