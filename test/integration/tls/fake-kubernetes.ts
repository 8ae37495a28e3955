// An in-memory stand-in for the few REST calls self-managed certificates make, behind the shared fake
// KubeApiClient, with the API server's semantics that matter here: resourceVersion preconditions (409), AlreadyExists (409), NotFound (404), JSON
// patches whose failed `test` is refused (422). The e2e suite runs the same code against a real kube-apiserver.
import type { V1MutatingWebhookConfiguration, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import type { ApiRequest } from '../../../src/kube/api-client.ts';
import { createFakeKubeApiClient, type FakeKubeApiClient, kubeApiError } from '../../unit/helpers/fake-kube-api-client.ts';

type Configuration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

export type FakeKubernetes = {
  /** Serves the Secrets under /api/v1/namespaces/<ns>/secrets and the two webhook configuration collections. */
  client: FakeKubeApiClient;
  secret(namespace: string, name: string): V1Secret | undefined;
  putSecret(secret: V1Secret): void;
  deleteSecret(namespace: string, name: string): void;
  configuration(kind: 'mutating' | 'validating', name: string): Configuration | undefined;
  putConfiguration(kind: 'mutating' | 'validating', config: Configuration): void;
  /** Make the next patches fail with this status (e.g. 403, as without RBAC); undefined to stop. */
  failPatches(status: number | undefined): void;
  counts: { secretWrites: number; patches: number };
};

export const apiError = (code: number, message: string): Error => kubeApiError(code, message);

export function createFakeKubernetes(): FakeKubernetes {
  let version = 100;
  const nextVersion = () => String(++version);
  const secrets = new Map<string, V1Secret>();
  const configurations = new Map<string, Configuration>();
  const counts = { secretWrites: 0, patches: 0 };
  let patchFailure: number | undefined;

  // The shared fake client yields to the event loop before each answer, so concurrent callers interleave.
  const readConfiguration = async (kind: 'mutating' | 'validating', name: string): Promise<Configuration> => {
    const config = configurations.get(`${kind}/${name}`);
    if (config === undefined) throw apiError(404, `${kind}webhookconfigurations "${name}" not found`);
    return structuredClone(config);
  };
  const patchConfiguration = async (kind: 'mutating' | 'validating', name: string, body: unknown): Promise<Configuration> => {
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

  const readSecret = async (namespace: string, name: string): Promise<V1Secret> => {
    const secret = secrets.get(`${namespace}/${name}`);
    if (secret === undefined) throw apiError(404, `secrets "${name}" not found`);
    return structuredClone(secret);
  };
  const createSecret = async (namespace: string, body: V1Secret): Promise<V1Secret> => {
    const key = `${namespace}/${body.metadata?.name ?? ''}`;
    if (secrets.has(key)) throw apiError(409, `secrets "${body.metadata?.name ?? ''}" already exists`);
    const stored = { ...structuredClone(body), metadata: { ...body.metadata, namespace, resourceVersion: nextVersion() } };
    secrets.set(key, stored);
    counts.secretWrites++;
    return structuredClone(stored);
  };
  const replaceSecret = async (namespace: string, name: string, body: V1Secret): Promise<V1Secret> => {
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
  };
  const route = (request: ApiRequest): Promise<unknown> => {
    const { method, path } = request;
    const secret = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path);
    if (secret) {
      const [, namespace, name] = secret as unknown as [string, string, string | undefined];
      if (method === 'POST' && name === undefined) return createSecret(namespace, request.body as V1Secret);
      if (method === 'GET' && name !== undefined) return readSecret(namespace, name);
      if (method === 'PUT' && name !== undefined) return replaceSecret(namespace, name, request.body as V1Secret);
    }
    const config = /^\/apis\/admissionregistration\.k8s\.io\/v1\/(mutating|validating)webhookconfigurations\/([^/]+)$/.exec(path);
    if (config) {
      const [, kind, name] = config as unknown as [string, 'mutating' | 'validating', string];
      if (method === 'GET') return readConfiguration(kind, name);
      if (method === 'PATCH') {
        // The API server takes a JSON patch only with its own content type (415 otherwise).
        if (request.contentType !== 'application/json-patch+json') throw apiError(415, `unsupported patch type ${request.contentType}`);
        return patchConfiguration(kind, name, request.body);
      }
    }
    throw apiError(405, `the fake Kubernetes does not serve ${method} ${path}`);
  };

  return {
    counts,
    client: createFakeKubeApiClient((request) => route(request)),
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
