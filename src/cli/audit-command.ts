import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { AuditEntry, AuditSummary } from '../audit/audit-pods.ts';
import { auditCluster } from '../audit/cluster-audit.ts';
import { describeApiError, DEFAULT_PAGE_SIZE } from '../audit/list-cluster-state.ts';
import { formatCodedError, type CodedError } from '../errors.ts';
import type { KubeApiClient } from '../kube/api-client.ts';
import { connectKubeApi } from '../main/connect-kube-api.ts';
import { loadPolicyFile } from '../policy/file-store.ts';
import { formatTable } from './table.ts';
import { parsePolicyDocument } from '../policy/parse.ts';
import type { Policy } from '../policy/types.ts';
import type { Result } from '../util/result.ts';

export interface AuditCommandOptions {
  /** Policy file; without it, the policy in force: the ConfigMap `policyConfigmap` in `webhookNamespace`. */
  policy?: string;
  policyConfigmap?: string;
  kubeconfig?: string;
  /** Kubeconfig context (default: its current-context). */
  context?: string;
  namespace?: string;
  /** -A: every namespace, which is also the default; only a conflict with --namespace matters. */
  allNamespaces?: boolean;
  output: 'table' | 'json';
  webhookNamespace: string;
  /** Pods per list request. */
  chunkSize?: string | number;
}

/** The key of the policy in the ConfigMap (manifests/base/kustomization.yaml configMapGenerator). */
export const POLICY_CONFIGMAP_KEY = 'policy.yaml';

export interface AuditReport {
  summary: AuditSummary;
  /** Every governed pod, compliant ones included (finding: false). */
  pods: AuditEntry[];
}

/**
 * `sandbox-admission audit`: every active pod the policy governs and whether it runs as the policy wants.
 * Exit codes: 0 no findings, 1 findings, 2 the audit could not run (policy, kubeconfig, API server).
 */
export async function runAudit(
  options: AuditCommandOptions,
  write: (text: string) => void,
  warn: (text: string) => void,
  deps: { client?: KubeApiClient; readConfigMapPolicy?: () => Promise<string | undefined> } = {},
): Promise<number> {
  if (options.allNamespaces && options.namespace !== undefined) {
    warn('sandbox-admission: --namespace and --all-namespaces exclude each other (see --help)\n');
    return 2;
  }
  const pageSize = options.chunkSize === undefined ? DEFAULT_PAGE_SIZE : Number(options.chunkSize);
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    warn(`sandbox-admission: --chunk-size must be a positive integer, got "${options.chunkSize}"\n`);
    return 2;
  }
  const configMapName = options.policyConfigmap ?? 'sandbox-admission-policy';
  const source =
    options.policy ?? `ConfigMap ${options.webhookNamespace}/${configMapName} (key ${POLICY_CONFIGMAP_KEY}, the policy in force)`;
  const reportPolicyErrors = (errors: CodedError[]): number => {
    for (const e of errors) warn(`${source}: ${formatCodedError(e)}\n`);
    return 2;
  };
  // A policy file is checked before the cluster is contacted: its mistakes are the user's to fix first.
  const fromFile = options.policy === undefined ? undefined : loadPolicyFile(options.policy, options.webhookNamespace);
  if (fromFile && !fromFile.ok) return reportPolicyErrors(fromFile.error);
  let client = deps.client;
  if (!client) {
    const kc = loadKubeConfig(options.kubeconfig, options.context);
    if (!kc.ok) {
      warn(`sandbox-admission: ${kc.error}\n`);
      return 2;
    }
    client = await createCliApiClient(options.kubeconfig, options.context);
  }
  const readConfigMapPolicy =
    deps.readConfigMapPolicy ?? (() => readPolicyConfigMap(client, { namespace: options.webhookNamespace, name: configMapName }));
  const loaded = fromFile ?? (await loadClusterPolicy(readConfigMapPolicy, options.webhookNamespace, source));
  if (!loaded.ok) return reportPolicyErrors(loaded.error);
  warn(`sandbox-admission: policy ${source} (SandboxPolicy "${loaded.value.policy.name}")\n`);
  const pods: AuditEntry[] = [];
  let summary: AuditSummary;
  try {
    summary = await auditCluster(client, {
      policy: loaded.value.policy,
      pageSize,
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      onEntry: (entry) => pods.push(entry),
    });
  } catch (error) {
    warn(`sandbox-admission: audit failed: ${describeApiError(error)}\n`);
    return 2;
  }
  const report: AuditReport = { summary, pods };
  write(options.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatAuditTable(pods));
  warn(`${formatAuditSummary(summary, options.namespace)}\n`);
  return summary.findings > 0 ? 1 : 0;
}

/** The policy text in the ConfigMap the webhook mounts, or undefined when the ConfigMap has no policy key. */
export async function readPolicyConfigMap(
  client: KubeApiClient,
  configMap: { namespace: string; name: string },
): Promise<string | undefined> {
  const found = await client.request<{ data?: Record<string, string> }>({
    method: 'GET',
    path: `/api/v1/namespaces/${encodeURIComponent(configMap.namespace)}/configmaps/${encodeURIComponent(configMap.name)}`,
  });
  return found.data?.[POLICY_CONFIGMAP_KEY];
}

/**
 * The CLI's API client, from the same kubeconfig loadKubeConfig has checked (same file, same context), through the
 * serving process's own client (src/kube/).
 */
export function createCliApiClient(path: string | undefined, context: string | undefined): Promise<KubeApiClient> {
  return connectKubeApi({ ...(path !== undefined ? { path } : {}), ...(context !== undefined ? { context } : {}) });
}

const HEADERS = ['NAMESPACE', 'POD', 'RULE', 'MODE', 'RUNTIME', 'FINDING'] as const;

/** kubectl-style columns; FINDING is `ok`, or each violation kind with the fields at fault. */
export function formatAuditTable(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return '';
  return formatTable(
    HEADERS,
    entries.map((e) => [e.namespace, e.pod, e.rule, e.mode, e.runtimeClassName ?? '<none>', describeFinding(e)]),
  );
}

function describeFinding(entry: AuditEntry): string {
  if (!entry.finding) return 'ok';
  return entry.violations.map((v) => (v.paths.length > 0 ? `${v.kind} (${v.paths.join(', ')})` : v.kind)).join('; ');
}

export function formatAuditSummary(summary: AuditSummary, namespace?: string): string {
  const where = namespace === undefined ? 'all namespaces' : `namespace ${namespace}`;
  const modes = Object.entries(summary.findingsByMode)
    .filter(([, n]) => n > 0)
    .map(([mode, n]) => `${mode} ${n}`);
  const findings =
    summary.findings === 0 ? 'no findings' : `${summary.findings} finding${summary.findings === 1 ? '' : 's'} (${modes.join(', ')})`;
  return `audit of ${where}: ${summary.scanned} pod${summary.scanned === 1 ? '' : 's'} scanned (Succeeded/Failed skipped), ${summary.governed} governed by the policy, ${findings}`;
}

async function loadClusterPolicy(
  read: () => Promise<string | undefined>,
  webhookNamespace: string,
  source: string,
): Promise<Result<{ policy: Policy }, CodedError[]>> {
  let text: string | undefined;
  try {
    text = await read();
  } catch (error) {
    return {
      ok: false,
      error: [
        {
          code: 'POLICY_READ',
          message: `cannot read it: ${describeApiError(error)}; pass --policy <file>, or --webhook-namespace / --policy-configmap where the webhook is installed`,
        },
      ],
    };
  }
  if (text === undefined) return { ok: false, error: [{ code: 'POLICY_READ', message: `${source} has no key ${POLICY_CONFIGMAP_KEY}` }] };
  const parsed = parsePolicyDocument(text, { webhookNamespace });
  return parsed.ok ? { ok: true, value: { policy: parsed.value.policy } } : parsed;
}

/**
 * The kubeconfig as kubectl finds it: --kubeconfig, else KUBECONFIG's files, ~/.kube/config, or the in-cluster
 * service account. Every way it can be missing or broken is one line that says what to do. (A check only, through
 * @kubernetes/client-node's parser, whose errors these messages name; the requests go through createCliApiClient.)
 */
export function loadKubeConfig(
  path: string | undefined,
  context: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Result<KubeConfig, string> {
  const kc = new KubeConfig();
  const fix = 'pass --kubeconfig <file> or set KUBECONFIG (kubectl config view --raw shows the one kubectl uses)';
  const shown = path ?? env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  if (path !== undefined && !existsSync(path)) return { ok: false, error: `kubeconfig ${path} does not exist; ${fix}` };
  const inCluster = env.KUBERNETES_SERVICE_HOST !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  const candidates =
    path !== undefined ? [path] : env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter(Boolean) : [join(homedir(), '.kube', 'config')];
  if (path === undefined && !inCluster && !candidates.some((c) => existsSync(c))) {
    return {
      ok: false,
      error: `no kubeconfig found (${env.KUBECONFIG ? `KUBECONFIG=${env.KUBECONFIG} names no existing file` : `${shown} does not exist and KUBECONFIG is unset`}); ${fix}`,
    };
  }
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (error) {
    return { ok: false, error: `cannot load the kubeconfig ${shown}: ${firstLine(error)}; fix it or ${fix}` };
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (context !== undefined) {
    if (!contexts.includes(context))
      return {
        ok: false,
        error: `kubeconfig ${shown} has no context "${context}" (contexts: ${contexts.join(', ') || 'none'}); pass one of them to --context`,
      };
    kc.setCurrentContext(context);
  } else if (!kc.getCurrentContext()) {
    return {
      ok: false,
      error: `kubeconfig ${shown} has no current-context; pass --context (contexts: ${contexts.join(', ') || 'none'}) or run kubectl config use-context`,
    };
  } else if (!contexts.includes(kc.getCurrentContext())) {
    return {
      ok: false,
      error: `kubeconfig ${shown}: its current-context "${kc.getCurrentContext()}" is not one of its contexts (${contexts.join(', ') || 'none'}); pass --context or run kubectl config use-context`,
    };
  }
  if (!kc.getCurrentCluster())
    return {
      ok: false,
      error: `kubeconfig ${shown}: context "${kc.getCurrentContext()}" names no cluster that the file defines; fix the context or pass another --context`,
    };
  return { ok: true, value: kc };
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!;
}
