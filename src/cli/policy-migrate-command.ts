import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { formatCodedError } from '../errors.ts';
import { parsePolicyDocument } from '../policy/parse.ts';
import { DEFAULT_SANDBOX_POLICY_NAME } from '../policy/sandbox-policy-crd.ts';
import type { KubeApiClient } from '../kube/api-client.ts';
import { createCliApiClient, loadKubeConfig, POLICY_CONFIGMAP_KEY, readPolicyConfigMap } from './audit-command.ts';

export interface PolicyMigrateOptions {
  /** A policy file ("-" for stdin); without it, the ConfigMap `policyConfigmap` in `webhookNamespace`. */
  policy?: string;
  kubeconfig?: string;
  context?: string;
  webhookNamespace: string;
  policyConfigmap: string;
  /** metadata.name of the SandboxPolicy printed: the one the webhook serves (--policy-name). */
  name: string;
}

/**
 * `sandbox-admission policy migrate`: the policy in force in file/ConfigMap mode as the SandboxPolicy object CRD
 * mode serves, for `| kubectl apply -f -`. The document is printed as written (comments kept) with only
 * metadata.name set; it is checked first, so a policy the webhook would refuse is never applied.
 * Exit codes: 0 printed, 2 the policy could not be read or is invalid.
 */
export async function runPolicyMigrate(
  options: PolicyMigrateOptions,
  out: (text: string) => void,
  errOut: (text: string) => void,
  /** The API client; default: one from the kubeconfig, made only when the policy comes from the ConfigMap. */
  client?: KubeApiClient,
): Promise<number> {
  const source =
    options.policy === undefined
      ? `ConfigMap ${options.webhookNamespace}/${options.policyConfigmap} (key ${POLICY_CONFIGMAP_KEY})`
      : options.policy === '-'
        ? 'stdin'
        : options.policy;
  let text: string | undefined;
  try {
    if (options.policy !== undefined) text = readFileSync(options.policy === '-' ? 0 : options.policy, 'utf8');
    else {
      let api = client;
      if (!api) {
        const kc = loadKubeConfig(options.kubeconfig, options.context);
        if (!kc.ok) {
          errOut(`sandbox-admission: ${kc.error}\n`);
          return 2;
        }
        api = await createCliApiClient(options.kubeconfig, options.context);
      }
      text = await readPolicyConfigMap(api, { namespace: options.webhookNamespace, name: options.policyConfigmap });
    }
  } catch (error) {
    errOut(`sandbox-admission: cannot read the policy from ${source}: ${(error as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if (text === undefined) {
    errOut(`sandbox-admission: ${source} holds no policy\n`);
    return 2;
  }
  const parsed = parsePolicyDocument(text, { webhookNamespace: options.webhookNamespace });
  if (!parsed.ok) {
    errOut(`sandbox-admission: the policy from ${source} is invalid; fix it before migrating:\n`);
    for (const e of parsed.error) errOut(`  ${formatCodedError(e)}\n`);
    return 2;
  }
  const doc = parseDocument(text);
  doc.setIn(['metadata', 'name'], options.name);
  out(doc.toString({ lineWidth: 0 }));
  return 0;
}

export const DEFAULT_MIGRATE_NAME = DEFAULT_SANDBOX_POLICY_NAME;
