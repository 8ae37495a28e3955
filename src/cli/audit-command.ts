import { KubeConfig } from '@kubernetes/client-node';
import type { AuditEntry, AuditSummary } from '../audit/audit-pods.ts';
import { auditCluster } from '../audit/cluster-audit.ts';
import { createAuditApis, describeApiError, DEFAULT_PAGE_SIZE, type AuditApis } from '../audit/list-cluster-state.ts';
import { formatCodedError } from '../errors.ts';
import { loadPolicyFile } from '../policy/file-store.ts';

export interface AuditCommandOptions {
  policy: string;
  kubeconfig?: string;
  namespace?: string;
  output: 'table' | 'json';
  webhookNamespace: string;
  /** Pods per list request. */
  chunkSize?: string;
}

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
  deps: { apis?: AuditApis } = {},
): Promise<number> {
  const loaded = loadPolicyFile(options.policy, options.webhookNamespace);
  if (!loaded.ok) {
    for (const e of loaded.error) warn(`${options.policy}: ${formatCodedError(e)}\n`);
    return 2;
  }
  const pageSize = options.chunkSize === undefined ? DEFAULT_PAGE_SIZE : Number(options.chunkSize);
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    warn(`sandbox-admission: --chunk-size must be a positive integer, got "${options.chunkSize}"\n`);
    return 2;
  }
  let apis = deps.apis;
  if (!apis) {
    try {
      apis = createAuditApis(loadKubeConfig(options.kubeconfig));
    } catch (error) {
      warn(
        `sandbox-admission: cannot load the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ''}: ${(error as Error).message}\n`,
      );
      return 2;
    }
  }
  const pods: AuditEntry[] = [];
  let summary: AuditSummary;
  try {
    summary = await auditCluster(apis, {
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

const HEADERS = ['NAMESPACE', 'POD', 'RULE', 'MODE', 'RUNTIME', 'FINDING'] as const;

/** kubectl-style columns; FINDING is `ok`, or each violation kind with the fields at fault. */
export function formatAuditTable(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return '';
  const rows = entries.map((e) => [e.namespace, e.pod, e.rule, e.mode, e.runtimeClassName ?? '<none>', describeFinding(e)]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('');
  return `${[line(HEADERS), ...rows.map(line)].join('\n')}\n`;
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

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  // KUBECONFIG, ~/.kube/config or the in-cluster service account, as kubectl would.
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
