// manifests/ as the e2e suites install it: rendered by the real kubectl (kustomize), with the one edit a test
// cluster needs: every webhook's Service reference becomes a loopback URL (nothing of ours is ever dialled
// outside 127.0.0.1) with a caBundle, and cert-manager.io objects (no CRDs here) are left out.
import type * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export type Manifest = k8s.KubernetesObject & Record<string, unknown>;
export type WebhookConfig = k8s.V1MutatingWebhookConfiguration | k8s.V1ValidatingWebhookConfiguration;
export const isWebhookConfig = (o: Manifest) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration';

/** `kubectl kustomize manifests/<dir>` as objects. */
export function renderKustomization(kubectl: string, dir: string): Manifest[] {
  const r = spawnSync(kubectl, ['kustomize', join(REPO, 'manifests', dir)], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `kubectl kustomize manifests/${dir} failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest)
    .filter((m) => m !== null);
}

/** The manifests as a test applies them: loopback URLs instead of the Service, a CA in caBundle, no cert-manager kinds. */
export function forTestCluster(objects: Manifest[], port: number, caPem: string): Manifest[] {
  return objects
    .filter((o) => !(o.apiVersion ?? '').startsWith('cert-manager.io/'))
    .map((o) => {
      if (!isWebhookConfig(o)) return o;
      const config = structuredClone(o) as unknown as WebhookConfig;
      for (const webhook of config.webhooks ?? []) {
        const service = webhook.clientConfig.service;
        assert.ok(service, `${webhook.name} should call the Service in the shipped manifests`);
        webhook.clientConfig = { url: `https://127.0.0.1:${port}${service.path ?? '/'}`, caBundle: Buffer.from(caPem).toString('base64') };
      }
      return config as unknown as Manifest;
    });
}
