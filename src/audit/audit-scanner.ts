import type { Metrics } from '../observe/metrics.ts';
import type { Policy } from '../policy/types.ts';
import type { AuditEntry, AuditSummary } from './audit-pods.ts';
import { auditCluster, ClusterAuditStopped } from './cluster-audit.ts';
import { describeApiError } from './list-cluster-state.ts';
import type { KubeApiClient } from '../kube/api-client.ts';

export interface AuditScannerLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface AuditScannerOptions {
  /** The API calls (read-only: pods, namespaces, RuntimeClasses). */
  client: KubeApiClient;
  /** Read at the start of every scan, so a reloaded policy applies from the next one. */
  policy: () => Policy;
  metrics: Metrics;
  log: AuditScannerLog;
  /** Time between the end of one scan and the start of the next. Default 5 minutes. */
  intervalMs?: number;
  /** Time from start() to the first scan, so it does not compete with start-up. Default 10 s. */
  initialDelayMs?: number;
  pageSize?: number;
  now?: () => Date;
  /**
   * After each complete scan, the pods with a finding and the policy judged with (the PolicyReports). Its failure
   * is logged; the scan still counts as a success.
   */
  onFindings?: (findings: AuditEntry[], policy: Policy) => Promise<unknown>;
}

export interface AuditScanner {
  /** Scan after initialDelayMs, then every intervalMs after each scan ends. Timers never keep the process alive. */
  start(): void;
  /** No more scans; a scan in flight ends at its next page and is not recorded. Resolves when it has. */
  stop(): Promise<void>;
  /**
   * Scan now, or join the scan in flight (scans never overlap). Never throws: resolves to the summary, or to
   * undefined when the scan failed (logged, counted in audit_scans_total{result="failure"}) or was stopped.
   */
  scan(): Promise<AuditSummary | undefined>;
}

export const DEFAULT_AUDIT_INTERVAL_MS = 5 * 60 * 1000;
export const DEFAULT_AUDIT_INITIAL_DELAY_MS = 10 * 1000;

/**
 * The server's periodic audit of pods that already run: the CLI's `audit` on a timer, exported as gauges.
 * A failed scan leaves the gauges at the last good scan; the last-scan timestamp shows how old that is.
 */
export function createAuditScanner(options: AuditScannerOptions): AuditScanner {
  const intervalMs = options.intervalMs ?? DEFAULT_AUDIT_INTERVAL_MS;
  const now = options.now ?? (() => new Date());
  const { metrics, log } = options;
  let inFlight: Promise<AuditSummary | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;

  const run = async (): Promise<AuditSummary | undefined> => {
    const startedAt = now();
    const findings: AuditEntry[] = [];
    try {
      const policy = options.policy();
      const summary = await auditCluster(options.client, {
        policy,
        ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
        ...(options.onFindings ? { onEntry: (entry: AuditEntry) => void (entry.finding && findings.push(entry)) } : {}),
        stopRequested: () => stopped,
      });
      const finishedAt = now();
      recordAuditScan(metrics, summary, finishedAt);
      log.info(
        {
          scanned: summary.scanned,
          governed: summary.governed,
          findings: summary.findings,
          findingsByMode: summary.findingsByMode,
          durationMs: finishedAt.getTime() - startedAt.getTime(),
        },
        'audit scan finished',
      );
      if (options.onFindings && !stopped) {
        await options
          .onFindings(findings, policy)
          .catch((error: unknown) => log.warn({ err: describeApiError(error) }, 'could not publish the audit findings'));
      }
      return summary;
    } catch (error) {
      if (error instanceof ClusterAuditStopped) return undefined;
      metrics.auditScans.inc({ result: 'failure' });
      log.warn({ err: describeApiError(error), durationMs: now().getTime() - startedAt.getTime() }, 'audit scan failed');
      return undefined;
    }
  };

  const scan = (): Promise<AuditSummary | undefined> => {
    if (stopped) return Promise.resolve(undefined);
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      // The next scan is timed from the end of this one, so a slow scan never stacks up behind itself.
      void scan().then(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  };

  return {
    start: () => {
      if (started || stopped) return;
      started = true;
      schedule(options.initialDelayMs ?? DEFAULT_AUDIT_INITIAL_DELAY_MS);
    },
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
    scan,
  };
}

/** Replace the audit gauges with one scan's counts, all at once (no scrape can see a half-updated set). */
export function recordAuditScan(metrics: Metrics, summary: AuditSummary, finishedAt: Date): void {
  metrics.auditScans.inc({ result: 'success' });
  metrics.auditFindings.reset();
  for (const { mode, kind, pods } of summary.findingsByKind) metrics.auditFindings.set({ mode, kind }, pods);
  metrics.auditPods.set({ state: 'scanned' }, summary.scanned);
  metrics.auditPods.set({ state: 'governed' }, summary.governed);
  metrics.auditPods.set({ state: 'findings' }, summary.findings);
  metrics.auditLastSuccessfulScan.set(finishedAt.getTime() / 1000);
}
