// The SandboxPolicy CRD in an e2e cluster: installed from the committed manifests/base/crd.yaml (the generator's
// output, held equal to it by a unit test), and objects written through the real API.
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  SANDBOX_POLICY_GROUP as group,
  SANDBOX_POLICY_PLURAL as plural,
  SANDBOX_POLICY_VERSION as version,
} from '../../../src/policy/sandbox-policy-crd.ts';
import { waitFor } from './api-assertions.ts';
import type { Cluster } from './cluster.ts';

export const CRD_PATH = new URL('../../../manifests/base/crd.yaml', import.meta.url);

export interface SandboxPolicyStatus {
  observedGeneration?: number;
  digest?: string;
  rules?: number;
  mode?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }>;
}

export interface SandboxPolicyObject {
  metadata: { name: string; generation?: number; resourceVersion?: string };
  spec: Record<string, unknown>;
  status?: SandboxPolicyStatus;
}

/**
 * Apply the CRD with the real kubectl, as a user installs it, and wait until the API server serves it. (client-node's
 * typed ApiextensionsV1Api would silently drop `enum` and `x-kubernetes-*` keys of a parsed YAML: its model names
 * them `_enum`, `xKubernetesValidations`.)
 */
export async function installSandboxPolicyCrd(cluster: Pick<Cluster, 'kubeConfig' | 'kubeconfigPath'>, kubectl: string): Promise<void> {
  const { kubeConfig } = cluster;
  execFileSync(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'apply', '--server-side', '-f', fileURLToPath(CRD_PATH)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ext = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const crd = parse(readFileSync(CRD_PATH, 'utf8')) as k8s.V1CustomResourceDefinition;
  await waitFor(async () => {
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
  });
  // Established can precede the discovery and storage the create path needs: wait for a list to answer.
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  await waitFor(async () => {
    await custom.listClusterCustomObject({ group, version, plural });
    return true;
  });
}

/** The policy document as a SandboxPolicy object named `name` (today's documents, unchanged but for the name). */
export function asSandboxPolicy(document: Record<string, unknown> | string, name: string): Record<string, unknown> {
  const doc = (typeof document === 'string' ? parse(document) : structuredClone(document)) as Record<string, unknown>;
  return { ...doc, metadata: { ...((doc.metadata as object) ?? {}), name } };
}

export function sandboxPolicies(kubeConfig: k8s.KubeConfig) {
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  return {
    create: (body: Record<string, unknown>, options: { dryRun?: boolean } = {}) =>
      custom.createClusterCustomObject({
        group,
        version,
        plural,
        body,
        fieldValidation: 'Strict',
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      }),
    get: async (name: string) => (await custom.getClusterCustomObject({ group, version, plural, name })) as SandboxPolicyObject,
    /** Replace the spec (a read-modify-write: the caller's edit wins over a concurrent status write only by retrying). */
    replaceSpec: async (name: string, spec: Record<string, unknown>) => {
      for (;;) {
        const current = (await custom.getClusterCustomObject({ group, version, plural, name })) as SandboxPolicyObject;
        try {
          return await custom.replaceClusterCustomObject({ group, version, plural, name, body: { ...current, spec } });
        } catch (error) {
          if ((error as { code?: number }).code !== 409) throw error;
        }
      }
    },
    delete: (name: string) => custom.deleteClusterCustomObject({ group, version, plural, name }),
  };
}

/** The condition `type` of the object, once `check` holds for the whole status (or fail after the timeout). */
export async function waitForStatus(
  kubeConfig: k8s.KubeConfig,
  name: string,
  check: (status: SandboxPolicyStatus, object: SandboxPolicyObject) => boolean,
  timeoutMs = 5000,
): Promise<SandboxPolicyObject> {
  const policies = sandboxPolicies(kubeConfig);
  let last: SandboxPolicyObject | undefined;
  try {
    await waitFor(
      async () => {
        last = await policies.get(name);
        return check(last.status ?? {}, last);
      },
      timeoutMs,
      50,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status of ${name}: ${JSON.stringify(last?.status)}`);
  }
  return last!;
}

export const condition = (status: SandboxPolicyStatus, type: string) => status.conditions?.find((c) => c.type === type);

/** Where a suite's webhook reads its policy: the two --policy-source values. */
export type PolicySource = 'file' | 'crd';
export const POLICY_SOURCES: readonly PolicySource[] = ['file', 'crd'];

/**
 * startWebhookProcess options that serve `policyYaml` from `source`: as the --policy file, or as the SandboxPolicy
 * "default" (CRD installed and the object created here) with a file that governs nothing, so that a decision
 * taken from the wrong source shows.
 */
export async function policySourceOptions(
  source: PolicySource,
  cluster: Pick<Cluster, 'kubeConfig' | 'kubeconfigPath'>,
  kubectl: string,
  policyYaml: string,
): Promise<{ policyYaml: string; extraArgs: string[] }> {
  if (source === 'file') return { policyYaml, extraArgs: [] };
  await installSandboxPolicyCrd(cluster, kubectl);
  await sandboxPolicies(cluster.kubeConfig).create(asSandboxPolicy(policyYaml, 'default'));
  return {
    policyYaml: 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: {rules: []}\n',
    extraArgs: ['--policy-source', 'crd'],
  };
}

export const describeSource = (source: PolicySource) => (source === 'file' ? 'policy from a file' : 'policy from a SandboxPolicy');
