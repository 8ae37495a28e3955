import { formatLabelSelector, type ObjectWriter } from '../cluster/server-side-apply.ts';
import { apiErrorCode } from '../kube/api-client.ts';
import { describeApiError } from './list-cluster-state.ts';
import { POLICY_REPORT_API_VERSION, POLICY_REPORT_LABELS, POLICY_REPORT_NAME, type PolicyReportObject } from './policy-reports.ts';

export interface PolicyReportPublisherLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface PolicyReportPublisherOptions {
  writer: ObjectWriter;
  /** Checked before every write: a replica that stopped leading writes nothing more. */
  isLeader: () => boolean;
  log: PolicyReportPublisherLog;
  onWrite?: (action: 'applied' | 'deleted' | 'failed') => void;
}

export interface PublishResult {
  applied: string[];
  deleted: string[];
  unchanged: number;
  failed: string[];
}

/**
 * Makes the cluster's sandbox-admission PolicyReports those of one complete audit scan: each namespace's report
 * applied (server-side, so an unchanged one is not written), and our report deleted from every namespace that has
 * no finding any more. A namespace that cannot take its report (being deleted) does not stop the others. Without
 * the PolicyReport CRD in the cluster it says so once and writes nothing (manifests/policy-report-crd installs it).
 */
export function createPolicyReportPublisher(options: PolicyReportPublisherOptions) {
  const { writer, log } = options;
  let missingCrdLogged = false;

  return async (reports: ReadonlyMap<string, PolicyReportObject>): Promise<PublishResult | undefined> => {
    if (!options.isLeader()) return undefined;
    let existing: Array<{ namespace: string; resourceVersion: string | undefined }>;
    try {
      existing = (await writer.list(POLICY_REPORT_API_VERSION, 'PolicyReport', formatLabelSelector(POLICY_REPORT_LABELS))).map((o) => ({
        namespace: o.metadata?.namespace ?? '',
        resourceVersion: o.metadata?.resourceVersion,
      }));
    } catch (error) {
      // Without the CRD the API server has no such path: 404.
      if (apiErrorCode(error) === 404) {
        if (!missingCrdLogged)
          log.warn({}, 'the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed; the audit writes no PolicyReports');
        missingCrdLogged = true;
        return undefined;
      }
      throw error;
    }
    missingCrdLogged = false;
    const versions = new Map(existing.map((e) => [e.namespace, e.resourceVersion]));
    const result: PublishResult = { applied: [], deleted: [], unchanged: 0, failed: [] };
    for (const [namespace, report] of reports) {
      if (!options.isLeader()) return result;
      try {
        const applied = await writer.apply(report);
        if (applied.metadata?.resourceVersion !== versions.get(namespace)) {
          result.applied.push(namespace);
          options.onWrite?.('applied');
        } else result.unchanged++;
      } catch (error) {
        result.failed.push(namespace);
        options.onWrite?.('failed');
        log.warn({ namespace, error: describeApiError(error) }, 'could not write the PolicyReport');
      }
    }
    for (const { namespace } of existing) {
      if (reports.has(namespace)) continue;
      if (!options.isLeader()) return result;
      try {
        await writer.delete({
          apiVersion: POLICY_REPORT_API_VERSION,
          kind: 'PolicyReport',
          metadata: { name: POLICY_REPORT_NAME, namespace },
        });
        result.deleted.push(namespace);
        options.onWrite?.('deleted');
      } catch (error) {
        result.failed.push(namespace);
        options.onWrite?.('failed');
        log.warn({ namespace, error: describeApiError(error) }, 'could not delete the PolicyReport');
      }
    }
    if (result.applied.length + result.deleted.length > 0)
      log.info({ applied: result.applied, deleted: result.deleted, unchanged: result.unchanged }, 'PolicyReports updated');
    return result;
  };
}
