import { readFileSync } from 'node:fs';
import { formatCodedError } from '../errors.ts';
import { buildValidatingAdmissionPolicies, formatVapJson, formatVapYaml } from '../admission-policies/validating-admission-policy.ts';
import { parsePolicyDocument } from '../policy/parse.ts';

export interface RenderVapCommandOptions {
  policy: string;
  webhookNamespace: string;
  output: 'yaml' | 'json';
}

/** The header of the YAML output; the checked-in manifest carries it too. */
export function vapHeader(policyName: string): string {
  return [
    `ValidatingAdmissionPolicies generated from SandboxPolicy "${policyName}" by \`sandbox-admission render vap\`.`,
    'Do not edit: change the policy and regenerate (README, "The ValidatingAdmissionPolicy").',
  ].join('\n');
}

/** The policy file as text -> the manifests `render vap` prints, or the policy's errors. */
export function renderVapText(
  policyText: string,
  options: Omit<RenderVapCommandOptions, 'policy'>,
): { ok: true; text: string } | { ok: false; errors: string[] } {
  const parsed = parsePolicyDocument(policyText, { webhookNamespace: options.webhookNamespace });
  if (!parsed.ok) return { ok: false, errors: parsed.error.map(formatCodedError) };
  const objects = buildValidatingAdmissionPolicies(parsed.value.document, { webhookNamespace: options.webhookNamespace });
  return {
    ok: true,
    text: options.output === 'json' ? formatVapJson(objects) : formatVapYaml(objects, vapHeader(parsed.value.policy.name)),
  };
}

/** Exit codes: 0 printed, 2 the policy could not be read or is invalid. */
export function runRenderVap(options: RenderVapCommandOptions, write: (text: string) => void, warn: (text: string) => void): number {
  let text: string;
  try {
    text = options.policy === '-' ? readFileSync(0, 'utf8') : readFileSync(options.policy, 'utf8');
  } catch (cause) {
    warn(`${options.policy}: POLICY_READ: ${(cause as Error).message}\n`);
    return 2;
  }
  const rendered = renderVapText(text, options);
  if (!rendered.ok) {
    for (const e of rendered.errors) warn(`${options.policy}: ${e}\n`);
    return 2;
  }
  write(rendered.text);
  return 0;
}
