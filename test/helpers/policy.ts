import { parsePolicy } from '../../src/policy/parse.ts';
import type { Policy } from '../../src/policy/types.ts';

export const WEBHOOK_NAMESPACE = 'sandbox-admission';

/** Parse a policy from YAML or fail the test with every error listed. */
export function policyFrom(yamlText: string): Policy {
  const result = parsePolicy(yamlText, { webhookNamespace: WEBHOOK_NAMESPACE });
  if (!result.ok) throw new Error(`test policy is invalid:\n${result.error.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  return result.value;
}

/** A policy with the given rules (YAML list body, indented as under `rules:`). */
export function policyWithRules(rulesYaml: string, extraSpec = ''): Policy {
  return policyFrom(`apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
spec:
${extraSpec}
  rules:
${rulesYaml}
`);
}

export const UNTRUSTED_TO_GVISOR = `    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`;
