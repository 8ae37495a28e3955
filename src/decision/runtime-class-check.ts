import { NON_SANDBOX_HANDLERS } from '../k8s/runtime-class.ts';
import type { Policy } from '../policy/types.ts';
import type { Verdict } from './types.ts';

/**
 * A RuntimeClass that a profile relies on, switched to a host-kernel handler, silently turns every "sandboxed"
 * pod into a runc pod. The change is admitted (cluster admins own RuntimeClasses) but flagged loudly; pods are
 * then refused by the decision, which checks handlers when it knows the cluster's classes.
 */
export function flagRuntimeClass(runtimeClass: { metadata?: { name?: string }; handler?: unknown }, policy: Policy): Verdict {
  const name = runtimeClass.metadata?.name ?? '';
  const handler = typeof runtimeClass.handler === 'string' ? runtimeClass.handler : '';
  const profile = policy.profilesByRuntimeClass.get(name);
  const base: Verdict = {
    allowed: true,
    warnings: [],
    auditAnnotations: {},
    reason: 'RuntimeClass is not used by a profile',
    rule: undefined,
    action: 'check-runtime-class',
    mode: 'enforce',
  };
  if (!profile) return base;
  if (!NON_SANDBOX_HANDLERS.has(handler)) return { ...base, reason: `RuntimeClass ${name} keeps sandbox handler ${handler}` };
  return {
    ...base,
    action: 'flag-runtime-class',
    reason: `RuntimeClass ${name} switched to handler ${handler}`,
    warnings: [
      `sandbox-admission: RuntimeClass "${name}" (runtime profile "${profile.name}") now uses handler "${handler}", which is not a sandbox; pods routed to it will be rejected until it points at runsc or kata again`,
    ],
    auditAnnotations: { finding: 'runtime-class-not-sandbox', runtimeClass: name, handler },
  };
}
