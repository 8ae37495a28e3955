import type { Toleration } from './pod.ts';

/** What the decision needs to know of a cluster RuntimeClass (node.k8s.io/v1). */
export interface RuntimeClassFacts {
  name: string;
  handler: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  overhead?: Record<string, string>;
}

/** Handlers that run containers directly on the host kernel: never a sandbox, whatever the class is called. */
export const NON_SANDBOX_HANDLERS: ReadonlySet<string> = new Set(['runc', 'crun', 'youki', '']);
