// The product as it runs in production, started as its own process: `sandbox-admission serve` with a serving
// certificate from the product's own node-forge code, reading namespaces and RuntimeClasses from the real API
// server through its kubeconfig. The API server reaches it by URL with the rendered caBundle.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import { freePort } from './ports.ts';
import { logTail, startProcess, type ManagedProcess } from './process.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface WebhookProcess {
  url: string;
  caPem: string;
  logPath: string;
  process: ManagedProcess;
  /** GET a path of the webhook (/readyz, /metrics) over HTTPS, verifying its CA. */
  get(path: string): Promise<{ status: number; text: string }>;
  /** Parsed JSON log lines written so far. */
  logLines(): Array<Record<string, unknown>>;
  /**
   * The log lines matching `predicate` once at least `count` exist: the process writes its log line after it
   * answered, so a test that reads right after its request must wait for it (up to 5 s).
   */
  waitForLogLines(predicate: (line: Record<string, unknown>) => boolean, count?: number): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

export async function startWebhookProcess(opts: {
  dir: string;
  kubeconfigPath: string;
  policyYaml: string;
  port?: number;
  extraArgs?: readonly string[];
}): Promise<WebhookProcess> {
  const now = new Date();
  const ca = createCertificateAuthority({ commonName: 'sandbox-admission-e2e-webhook-ca', validityDays: 1, now });
  const serving = createServingCertificate(ca, {
    commonName: 'sandbox-admission',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    now,
  });
  const certFile = join(opts.dir, 'webhook.crt');
  const keyFile = join(opts.dir, 'webhook.key');
  const policyFile = join(opts.dir, 'policy.yaml');
  writeFileSync(certFile, serving.certPem);
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  writeFileSync(policyFile, opts.policyYaml);
  const port = opts.port ?? (await freePort());
  const logPath = join(opts.dir, `webhook-${port}.log`);
  const proc = startProcess(
    'sandbox-admission',
    process.execPath,
    [
      join(REPO, 'src/cli/main.ts'),
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--tls-cert-file',
      certFile,
      '--tls-key-file',
      keyFile,
      '--policy',
      policyFile,
      '--kubeconfig',
      opts.kubeconfigPath,
      '--drain-delay',
      '0',
      '--log-level',
      'info',
      ...(opts.extraArgs ?? []),
    ],
    logPath,
  );
  const url = `https://127.0.0.1:${port}`;
  await waitReady(url, ca.certPem, proc, logPath);
  const logLines = () =>
    readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    url,
    caPem: ca.certPem,
    logPath,
    process: proc,
    get: (path) => httpsGet(`${url}${path}`, ca.certPem),
    logLines,
    waitForLogLines: async (predicate, count = 1) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = logLines().filter(predicate);
        if (found.length >= count || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => proc.stop(),
  };
}

async function waitReady(url: string, caPem: string, proc: ManagedProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.hasExited()) throw new Error(`webhook exited during start-up:\n${logTail(logPath)}`);
    if ((await httpsGet(`${url}/readyz`, caPem)).status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`webhook not ready after 30s:\n${logTail(logPath)}`);
}

/** One GET over a CA-verifying connection; status 0 when nothing answered (not listening yet, or gone). */
function httpsGet(url: string, ca: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: 2000 }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** manifests/base/mutating-webhook.yaml with the Service reference replaced by a URL and the CA filled in. */
export function renderMutatingWebhook(url: string, caPem: string): Record<string, unknown> {
  return renderWebhookConfiguration('manifests/base/mutating-webhook.yaml', url, caPem);
}

/** A webhook configuration from manifests/ with every Service reference replaced by a URL and the CA filled in. */
export function renderWebhookConfiguration(relativePath: string, url: string, caPem: string): Record<string, unknown> {
  const config = parse(readFileSync(join(REPO, relativePath), 'utf8')) as { webhooks: Array<Record<string, unknown>> };
  for (const webhook of config.webhooks) {
    const path = (webhook.clientConfig as { service: { path: string } }).service.path;
    webhook.clientConfig = { url: `${url}${path}`, caBundle: Buffer.from(caPem).toString('base64') };
  }
  return config as unknown as Record<string, unknown>;
}

/** Every document of a manifest file under manifests/. */
export function readManifests(relativePath: string): Array<Record<string, unknown>> {
  return readFileSync(join(REPO, relativePath), 'utf8')
    .split(/^---$/m)
    .map((doc) => parse(doc) as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null);
}
