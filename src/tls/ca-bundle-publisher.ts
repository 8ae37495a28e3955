import { decodeCaBundle, encodeCaBundle, isSameBundle } from './ca-bundle.ts';
import { apiErrorCode, type KubeApiClient } from '../kube/api-client.ts';

/**
 * Puts the CA bundle into `clientConfig.caBundle` of every webhook of the webhook's own
 * MutatingWebhookConfiguration and ValidatingWebhookConfiguration. Read, compare, and only when something
 * differs send a JSON patch that sets caBundle by index, guarded by `test` operations on the
 * resourceVersion and on each webhook's name: a configuration edited in between is re-read, never clobbered.
 */

export type WebhookConfigurationKind = 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
export type WebhookConfigurationRef = { kind: WebhookConfigurationKind; name: string };

export type PublishResult = 'unchanged' | 'patched' | 'missing' | 'failed';
export type ConfigurationReport = WebhookConfigurationRef & { result: PublishResult; webhooks: number; error?: string };

export type PublishReport = {
  configurations: ConfigurationReport[];
  /** Every configuration that exists now carries exactly the bundle (a missing one trusts nothing, so it does not count). */
  published: boolean;
};

export type CaBundlePublisher = { publish(bundlePem: string): Promise<PublishReport> };

export type JsonPatchOperation = { op: 'test'; path: string; value: string } | { op: 'add'; path: string; value: string };

/** The webhooks of a configuration, as far as the caBundle is concerned. */
export type WebhookConfigurationView = {
  resourceVersion: string | undefined;
  webhooks: ReadonlyArray<{ name: string; caBundle: string | undefined }>;
};

export type PublisherLog = {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
};

/** What the publisher reads of a webhook configuration. */
interface WebhookConfigurationObject {
  metadata?: { resourceVersion?: string };
  webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }>;
}

const configurationPath = (ref: WebhookConfigurationRef): string =>
  `/apis/admissionregistration.k8s.io/v1/${ref.kind === 'MutatingWebhookConfiguration' ? 'mutating' : 'validating'}webhookconfigurations/${encodeURIComponent(ref.name)}`;

export type CaBundlePublisherOptions = {
  client: KubeApiClient;
  configurations: readonly WebhookConfigurationRef[];
  log: PublisherLog;
  /** Called once per configuration that was patched or failed, for metrics. */
  onResult?: (ref: WebhookConfigurationRef, result: PublishResult) => void;
};

/** The JSON patch that gives every webhook `bundlePem`; empty when every webhook already has it. */
export function planCaBundlePatch(view: WebhookConfigurationView, bundlePem: string): JsonPatchOperation[] {
  const value = encodeCaBundle(bundlePem);
  const operations: JsonPatchOperation[] = [];
  view.webhooks.forEach((webhook, index) => {
    if (isSameBundle(decodeCaBundle(webhook.caBundle), bundlePem)) return;
    // The name guards the index: if webhooks were reordered since we read, the patch fails instead of
    // writing into the wrong entry.
    operations.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value });
  });
  if (operations.length === 0) return operations;
  return view.resourceVersion === undefined
    ? operations
    : [{ op: 'test', path: '/metadata/resourceVersion', value: view.resourceVersion }, ...operations];
}

const attempts = 3;

export function createCaBundlePublisher(options: CaBundlePublisherOptions): CaBundlePublisher {
  const { client, log } = options;

  const read = async (ref: WebhookConfigurationRef): Promise<WebhookConfigurationView | undefined> => {
    try {
      const config = await client.request<WebhookConfigurationObject>({ method: 'GET', path: configurationPath(ref) });
      return {
        resourceVersion: config.metadata?.resourceVersion,
        webhooks: (config.webhooks ?? []).map((webhook) => ({ name: webhook.name, caBundle: webhook.clientConfig?.caBundle })),
      };
    } catch (error) {
      if (apiErrorCode(error) === 404) return undefined;
      throw error;
    }
  };

  const patch = async (ref: WebhookConfigurationRef, body: JsonPatchOperation[]): Promise<void> => {
    await client.request({ method: 'PATCH', path: configurationPath(ref), contentType: 'application/json-patch+json', body });
  };

  const publishOne = async (ref: WebhookConfigurationRef, bundlePem: string): Promise<ConfigurationReport> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const view = await read(ref);
        if (view === undefined) return { ...ref, result: 'missing', webhooks: 0 };
        const operations = planCaBundlePatch(view, bundlePem);
        if (operations.length === 0) return { ...ref, result: 'unchanged', webhooks: view.webhooks.length };
        await patch(ref, operations);
        return { ...ref, result: 'patched', webhooks: view.webhooks.length };
      } catch (error) {
        lastError = error;
        // A failed `test` (someone wrote in between) comes back from kube-apiserver as 422 Invalid; 409 for good
        // measure. Read again and retry; anything else is final.
        const status = apiErrorCode(error);
        if (status !== 409 && status !== 422) break;
      }
    }
    return { ...ref, result: 'failed', webhooks: 0, error: describeError(lastError) };
  };

  // A missing configuration is reported when it goes missing, not on every periodic check.
  const lastResults = new Map<string, PublishResult>();

  return {
    publish: async (bundlePem) => {
      const configurations: ConfigurationReport[] = [];
      for (const ref of options.configurations) {
        const report = await publishOne(ref, bundlePem);
        configurations.push(report);
        const data = { kind: report.kind, name: report.name, webhooks: report.webhooks };
        const key = `${ref.kind}/${ref.name}`;
        const previous = lastResults.get(key);
        lastResults.set(key, report.result);
        if (report.result === 'patched') log.info(data, 'caBundle patched');
        else if (report.result === 'missing' && previous !== 'missing')
          log.warn(data, 'webhook configuration not found; caBundle not published to it');
        else if (report.result === 'failed') log.error({ ...data, error: report.error }, 'caBundle patch failed');
        if (report.result !== 'unchanged') options.onResult?.(ref, report.result);
      }
      return { configurations, published: configurations.every((report) => report.result !== 'failed') };
    },
  };
}

function describeError(error: unknown): string {
  const status = apiErrorCode(error);
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const message = (JSON.parse(body) as { message?: unknown }).message;
      if (typeof message === 'string') return status === undefined ? message : `${status}: ${message}`;
    } catch {
      // not JSON: fall through to the error's own message
    }
  }
  return error instanceof Error ? error.message : String(error);
}
