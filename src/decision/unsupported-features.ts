import type { Container, Pod } from '../k8s/pod.ts';
import type { PodFeature } from '../policy/types.ts';

export interface FeatureUse {
  feature: PodFeature;
  /** Field path in kubectl style, e.g. `spec.containers[0].securityContext.privileged`. */
  path: string;
}

/** Every place the pod uses a feature from `unsupported`, so a rejection can list them all at once. */
export function findUnsupportedFeatures(pod: Pod, unsupported: ReadonlySet<PodFeature>): FeatureUse[] {
  if (unsupported.size === 0) return [];
  const spec = pod.spec ?? {};
  const uses: FeatureUse[] = [];
  const flag = (feature: PodFeature, path: string): void => {
    if (unsupported.has(feature)) uses.push({ feature, path });
  };
  if (spec.hostNetwork === true) flag('hostNetwork', 'spec.hostNetwork');
  if (spec.hostPID === true) flag('hostPID', 'spec.hostPID');
  if (spec.hostIPC === true) flag('hostIPC', 'spec.hostIPC');
  if (spec.hostUsers === false) flag('userNamespace', 'spec.hostUsers');
  (Array.isArray(spec.volumes) ? spec.volumes : []).forEach((volume, i) => {
    if (volume && typeof volume === 'object' && volume.hostPath) flag('hostPath', `spec.volumes[${i}].hostPath`);
  });
  for (const field of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const list: unknown = spec[field];
    if (!Array.isArray(list)) continue;
    list.forEach((container: Container, i) => {
      if (!container || typeof container !== 'object') return;
      const at = `spec.${field}[${i}]`;
      const sc = container.securityContext;
      if (sc?.privileged === true) flag('privileged', `${at}.securityContext.privileged`);
      if (sc?.procMount === 'Unmasked') flag('unmaskedProcMount', `${at}.securityContext.procMount`);
      (Array.isArray(container.ports) ? container.ports : []).forEach((port, j) => {
        if (port && typeof port.hostPort === 'number' && port.hostPort !== 0) flag('hostPort', `${at}.ports[${j}].hostPort`);
      });
    });
  }
  return uses;
}
