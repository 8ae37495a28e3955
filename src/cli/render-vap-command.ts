import { readFileSync } from 'node:fs';
import { formatCodedError } from '../errors.ts';
import { buildMutatingAdmissionPolicies } from '../admission-policies/mutating-admission-policy.ts';
import { buildValidatingAdmissionPolicies, formatVapJson, formatVapYaml } from '../admission-policies/validating-admission-policy.ts';
import type { KubernetesObject } from '../admission-policies/pod-variables.ts';
import { parsePolicyDocument } from '../policy/parse.ts';
import type { PolicyDocument } from '../policy/types.ts';

export interface RenderVapCommandOptions {
  policy: string;
  webhookNamespace: string;
  output: 'yaml' | 'json';
  /** vap only: the ValidatingAdmissionPolicies of the native flavour, which run after the MutatingAdmissionPolicy. */
  afterMap?: boolean;
}

/** What `render` can generate: `vap` the ValidatingAdmissionPolicies, `map` the MutatingAdmissionPolicy. */
export type RenderKind = 'vap' | 'map';

const KINDS: Readonly<
  Record<
    RenderKind,
    {
      what: string;
      section: string;
      build: (d: PolicyDocument, o: { webhookNamespace: string; afterMutation: boolean }) => KubernetesObject[];
    }
  >
> = {
  vap: { what: 'ValidatingAdmissionPolicies', section: 'The ValidatingAdmissionPolicy', build: buildValidatingAdmissionPolicies },
  map: { what: 'MutatingAdmissionPolicy', section: 'The MutatingAdmissionPolicy', build: buildMutatingAdmissionPolicies },
};

/** The header of the YAML output; the checked-in manifest carries it too. */
export function vapHeader(policyName: string, kind: RenderKind = 'vap', afterMap = false): string {
  return [
    `${KINDS[kind].what} generated from SandboxPolicy "${policyName}" by \`sandbox-admission render ${kind}${afterMap ? ' --after-map' : ''}\`.`,
    `Do not edit: change the policy and regenerate (README, "${KINDS[kind].section}").`,
  ].join('\n');
}

/** The policy file as text -> the manifests `render vap` (or `render map`) prints, or the policy's errors. */
export function renderVapText(
  policyText: string,
  options: Omit<RenderVapCommandOptions, 'policy'>,
  kind: RenderKind = 'vap',
): { ok: true; text: string } | { ok: false; errors: string[] } {
  const parsed = parsePolicyDocument(policyText, { webhookNamespace: options.webhookNamespace });
  if (!parsed.ok) return { ok: false, errors: parsed.error.map(formatCodedError) };
  const objects = KINDS[kind].build(parsed.value.document, {
    webhookNamespace: options.webhookNamespace,
    afterMutation: options.afterMap === true,
  });
  return {
    ok: true,
    text:
      options.output === 'json'
        ? formatVapJson(objects)
        : formatVapYaml(objects, vapHeader(parsed.value.policy.name, kind, options.afterMap === true)),
  };
}

/** Exit codes: 0 printed, 2 the policy could not be read or is invalid. */
export function runRenderVap(
  options: RenderVapCommandOptions,
  write: (text: string) => void,
  warn: (text: string) => void,
  kind: RenderKind = 'vap',
): number {
  let text: string;
  try {
    text = options.policy === '-' ? readFileSync(0, 'utf8') : readFileSync(options.policy, 'utf8');
  } catch (cause) {
    warn(`${options.policy}: POLICY_READ: ${(cause as Error).message}\n`);
    return 2;
  }
  const rendered = renderVapText(text, options, kind);
  if (!rendered.ok) {
    for (const e of rendered.errors) warn(`${options.policy}: ${e}\n`);
    return 2;
  }
  write(rendered.text);
  return 0;
}
