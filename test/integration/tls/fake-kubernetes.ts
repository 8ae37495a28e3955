// An in-memory stand-in for the few API calls self-managed certificates make, with the API server's
// semantics that matter here: resourceVersion preconditions (409), AlreadyExists (409), NotFound (404), JSON
// patches whose failed `test` is refused (422). The e2e suite runs the same code against a real kube-apiserver.
import type { V1MutatingWebhookConfiguration, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import type { WebhookConfigurationClient } from '../../../src/tls/ca-bundle-publisher.ts';
import type { SecretClient } from '../../../src/tls/certificate-secret-store.ts';

type Configuration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

export type FakeKubernetes = {
  secrets: SecretClient;
  webhooks: WebhookConfigurationClient;
  secret(namespace: string, name: string): V1Secret | undefined;
  putSecret(secret: V1Secret): void;
  deleteSecret(namespace: string, name: string): void;
  configuration(kind: 'mutating' | 'validating', name: string): Configuration | undefined;
  putConfiguration(kind: 'mutating' | 'validating', config: Configuration): void;
  /** Make the next patches fail with this status (e.g. 403, as without RBAC); undefined to stop. */
  failPatches(status: number | undefined): void;
  counts: { secretWrites: number; patches: number };
};

export function apiError(code: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code} Message: ${message}`), {
    code,
    body: JSON.stringify({ kind: 'Status', code, message }),
  });
}

export function createFakeKubernetes(): FakeKubernetes {
  let version = 100;
  const nextVersion = () => String(++version);
  const secrets = new Map<string, V1Secret>();
  const configurations = new Map<string, Configuration>();
  const counts = { secretWrites: 0, patches: 0 };
  let patchFailure: number | undefined;
  // Every call yields to the event loop first, like a network round trip, so concurrent callers interleave.
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

  const readConfiguration = async (kind: 'mutating' | 'validating', name: string): Promise<Configuration> => {
    await tick();
    const config = configurations.get(`${kind}/${name}`);
    if (config === undefined) throw apiError(404, `${kind}webhookconfigurations "${name}" not found`);
    return structuredClone(config);
  };
  const patchConfiguration = async (kind: 'mutating' | 'validating', name: string, body: unknown): Promise<Configuration> => {
    await tick();
    if (patchFailure !== undefined) throw apiError(patchFailure, 'patch refused by the fake');
    const config = configurations.get(`${kind}/${name}`);
    if (config === undefined) throw apiError(404, 'not found');
    let patched: Configuration;
    try {
      patched = fastJsonPatch.applyPatch(structuredClone(config), body as fastJsonPatch.Operation[], true, false).newDocument;
    } catch (error) {
      throw apiError(422, `the server rejected our request due to an error in our request: ${(error as Error).message}`);
    }
    patched.metadata = { ...patched.metadata, resourceVersion: nextVersion() };
    configurations.set(`${kind}/${name}`, patched);
    counts.patches++;
    return structuredClone(patched);
  };

  return {
    counts,
    secrets: {
      readNamespacedSecret: async ({ namespace, name }) => {
        await tick();
        const secret = secrets.get(`${namespace}/${name}`);
        if (secret === undefined) throw apiError(404, `secrets "${name}" not found`);
        return structuredClone(secret);
      },
      createNamespacedSecret: async ({ namespace, body }) => {
        await tick();
        const key = `${namespace}/${body.metadata?.name ?? ''}`;
        if (secrets.has(key)) throw apiError(409, `secrets "${body.metadata?.name ?? ''}" already exists`);
        const stored = { ...structuredClone(body), metadata: { ...body.metadata, namespace, resourceVersion: nextVersion() } };
        secrets.set(key, stored);
        counts.secretWrites++;
        return structuredClone(stored);
      },
      replaceNamespacedSecret: async ({ namespace, name, body }) => {
        await tick();
        const current = secrets.get(`${namespace}/${name}`);
        if (current === undefined) throw apiError(404, `secrets "${name}" not found`);
        if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
          throw apiError(
            409,
            `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        const stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: nextVersion() } };
        secrets.set(`${namespace}/${name}`, stored);
        counts.secretWrites++;
        return structuredClone(stored);
      },
    },
    webhooks: {
      readMutatingWebhookConfiguration: async ({ name }) => readConfiguration('mutating', name),
      readValidatingWebhookConfiguration: async ({ name }) => readConfiguration('validating', name),
      patchMutatingWebhookConfiguration: async ({ name, body }) => patchConfiguration('mutating', name, body),
      patchValidatingWebhookConfiguration: async ({ name, body }) => patchConfiguration('validating', name, body),
    },
    secret: (namespace, name) => {
      const secret = secrets.get(`${namespace}/${name}`);
      return secret === undefined ? undefined : structuredClone(secret);
    },
    putSecret: (secret) => {
      const key = `${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`;
      secrets.set(key, { ...structuredClone(secret), metadata: { ...secret.metadata, resourceVersion: nextVersion() } });
    },
    deleteSecret: (namespace, name) => {
      secrets.delete(`${namespace}/${name}`);
    },
    configuration: (kind, name) => {
      const config = configurations.get(`${kind}/${name}`);
      return config === undefined ? undefined : structuredClone(config);
    },
    putConfiguration: (kind, config) => {
      configurations.set(`${kind}/${config.metadata?.name ?? ''}`, {
        ...structuredClone(config),
        metadata: { ...config.metadata, resourceVersion: nextVersion() },
      });
    },
    failPatches: (status) => {
      patchFailure = status;
    },
  };
}
