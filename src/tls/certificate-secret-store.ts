import { apiErrorCode, type KubeApiClient, type KubeObject } from '../kube/api-client.ts';
import type { CertificateMaterial } from './certificate-state.ts';

/**
 * The Secret that holds the CA and serving certificate, shared by every replica. Writes are optimistic:
 * create fails with 409 when another replica created it first, update fails with 409 when another replica
 * changed it since we read it; either way the caller gets what is there now and adopts it.
 */

export const secretDataKeys = { caBundlePem: 'ca.crt', caKeyPem: 'ca.key', certPem: 'tls.crt', keyPem: 'tls.key' } as const;

/** When the last rotation step was written: the planner lets each step settle before the next. */
export const changedAtAnnotation = 'sandbox-admission.io/certificates-changed-at';

// kubernetes.io/tls: the shape tools expect (tls.crt, tls.key, optional ca.crt), and the API server refuses a
// write that lacks tls.crt or tls.key. ca.key is one extra key, which the type allows.
export const secretType = 'kubernetes.io/tls';

/** The Secret as the API server sends it (data base64-encoded). */
export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export type SecretSnapshot = {
  material: Partial<CertificateMaterial>;
  changedAt: Date | undefined;
  resourceVersion: string;
  /** The object as read, so an update keeps its labels, annotations and type. */
  object: SecretObject;
};

export type CreateOutcome = { kind: 'created' | 'adopted'; snapshot: SecretSnapshot };
export type UpdateOutcome = { kind: 'updated'; snapshot: SecretSnapshot } | { kind: 'conflict'; current: SecretSnapshot | undefined };

export type CertificateSecretStore = {
  readonly namespace: string;
  readonly name: string;
  /** The Secret, or undefined when it does not exist. */
  read(): Promise<SecretSnapshot | undefined>;
  /** Create it; when another replica won the race, its Secret. */
  create(material: CertificateMaterial, changedAt: Date): Promise<CreateOutcome>;
  /** Replace the data of `previous`; when it changed or vanished since, what is there now. */
  update(previous: SecretSnapshot, material: CertificateMaterial, changedAt: Date): Promise<UpdateOutcome>;
};

export function createCertificateSecretStore(options: {
  client: KubeApiClient;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
}): CertificateSecretStore {
  const { client, namespace, name } = options;
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const read = async (): Promise<SecretSnapshot | undefined> => {
    try {
      return decodeSecret(await client.request<SecretObject>({ method: 'GET', path }));
    } catch (error) {
      if (apiErrorCode(error) === 404) return undefined;
      throw error;
    }
  };
  return {
    namespace,
    name,
    read,
    create: async (material, changedAt) => {
      const body: SecretObject = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { ...options.labels }, annotations: { [changedAtAnnotation]: changedAt.toISOString() } },
        type: secretType,
        data: encodeSecretData(material),
      };
      try {
        return { kind: 'created', snapshot: decodeSecret(await client.request<SecretObject>({ method: 'POST', path: collection, body })) };
      } catch (error) {
        if (apiErrorCode(error) !== 409) throw error;
      }
      const winner = await read();
      // Created and deleted again between our two calls: rare enough to leave to the next reconcile.
      if (winner === undefined) throw new Error(`secret ${namespace}/${name} was created by another writer and deleted again`);
      return { kind: 'adopted', snapshot: winner };
    },
    update: async (previous, material, changedAt) => {
      const body: SecretObject = {
        ...previous.object,
        metadata: {
          ...previous.object.metadata,
          // The precondition: the API server answers 409 if anyone wrote since we read.
          resourceVersion: previous.resourceVersion,
          annotations: { ...previous.object.metadata?.annotations, [changedAtAnnotation]: changedAt.toISOString() },
        },
        // Keep the existing type: it cannot change, and only the data is ours to decide.
        type: previous.object.type ?? secretType,
        data: { ...previous.object.data, ...encodeSecretData(material) },
      };
      try {
        return { kind: 'updated', snapshot: decodeSecret(await client.request<SecretObject>({ method: 'PUT', path, body })) };
      } catch (error) {
        const status = apiErrorCode(error);
        if (status !== 409 && status !== 404) throw error;
      }
      return { kind: 'conflict', current: await read() };
    },
  };
}

export function encodeSecretData(material: CertificateMaterial): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(secretDataKeys) as Array<[keyof CertificateMaterial, string]>) {
    data[key] = Buffer.from(material[field], 'utf8').toString('base64');
  }
  return data;
}

export function decodeSecret(secret: SecretObject): SecretSnapshot {
  const material: Partial<CertificateMaterial> = {};
  for (const [field, key] of Object.entries(secretDataKeys) as Array<[keyof CertificateMaterial, string]>) {
    const value = secret.data?.[key];
    if (value !== undefined) material[field] = Buffer.from(value, 'base64').toString('utf8');
  }
  const stamp = secret.metadata?.annotations?.[changedAtAnnotation];
  const changedAt = stamp === undefined ? undefined : new Date(stamp);
  return {
    material,
    changedAt: changedAt !== undefined && Number.isFinite(changedAt.getTime()) ? changedAt : undefined,
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    object: secret,
  };
}
