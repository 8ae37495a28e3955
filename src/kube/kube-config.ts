import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * Where the API server is and how to authenticate to it, found as kubectl and client-go find it: an explicit
 * kubeconfig file; else $KUBECONFIG (a list of files, merged: the first file to set a name wins); else
 * ~/.kube/config; else the in-cluster service account. A kubeconfig user with an `exec` or `auth-provider`
 * plugin is handed to @kubernetes/client-node, loaded only then: it runs the plugins and refreshes what they give.
 */
export interface ClusterConnection {
  /** `https://host:port`, without a trailing slash. */
  server: string;
  /** Where it came from, for messages: `in-cluster service account`, `kubeconfig /path (context name)`. */
  source: string;
  /** TLS settings and headers for the next request (a token file is re-read when it may have rotated). */
  requestOptions(): Promise<ConnectionOptions>;
}

export interface ConnectionOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers: Record<string, string>;
}

export interface LoadConnectionOptions {
  /** --kubeconfig: this file only. */
  path?: string;
  /** --context: instead of the kubeconfig's current-context. */
  context?: string;
  /** Replaceable in tests. */
  env?: NodeJS.ProcessEnv;
  home?: string;
  serviceAccountDir?: string;
  now?: () => number;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound service-account tokens are rotated by the kubelet; client-go re-reads the file about this often. */
const TOKEN_REREAD_MS = 60_000;

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

export async function loadClusterConnection(options: LoadConnectionOptions = {}): Promise<ClusterConnection> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  if (options.path) return fromKubeconfigFiles([resolve(options.path)], options.context, now);
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (listed.length > 0) {
    const present = listed.map((p) => resolve(p)).filter((p) => existsSync(p));
    if (present.length === 0) throw new KubeConfigError(`KUBECONFIG names no file that exists: ${listed.join(delimiter)}`);
    return fromKubeconfigFiles(present, options.context, now);
  }
  const home = join(options.home ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return fromKubeconfigFiles([home], options.context, now);
  return fromServiceAccount(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, now);
}

function fromServiceAccount(env: NodeJS.ProcessEnv, dir: string, now: () => number): ClusterConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = join(dir, 'token');
  if (!host || !port || !existsSync(tokenFile))
    throw new KubeConfigError(
      `no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster (KUBERNETES_SERVICE_HOST/PORT and ${tokenFile})`,
    );
  const caFile = join(dir, 'ca.crt');
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (cause) {
    throw new KubeConfigError(
      `in-cluster service account: cannot read the cluster CA ${caFile}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
    );
  }
  const token = rereadingToken(tokenFile, now);
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    source: 'in-cluster service account',
    requestOptions: async () => ({ ca, headers: { Authorization: `Bearer ${token()}` } }),
  };
}

type Named<T> = { name?: unknown } & Record<string, T | unknown>;

interface Kubeconfig {
  file: string;
  clusters: Map<string, Record<string, unknown>>;
  users: Map<string, Record<string, unknown>>;
  contexts: Map<string, Record<string, unknown>>;
  currentContext?: string;
  /** The file that defined each named entry: relative paths in it are relative to that file. */
  origin: Map<string, string>;
}

function fromKubeconfigFiles(
  files: readonly string[],
  contextName: string | undefined,
  now: () => number,
): Promise<ClusterConnection> | ClusterConnection {
  const config = mergeKubeconfigs(files);
  const name = contextName ?? config.currentContext;
  if (!name) throw new KubeConfigError(`${files.join(delimiter)}: no current-context; name one with --context`);
  const context = config.contexts.get(name);
  if (!context) throw new KubeConfigError(`${files.join(delimiter)}: no context named "${name}"`);
  const clusterName = String(context.cluster ?? '');
  const cluster = config.clusters.get(clusterName);
  if (!cluster)
    throw new KubeConfigError(`${files.join(delimiter)}: context "${name}" names cluster "${clusterName}", which is not defined`);
  const userName = context.user === undefined ? undefined : String(context.user);
  const user = userName === undefined ? {} : config.users.get(userName);
  if (!user) throw new KubeConfigError(`${files.join(delimiter)}: context "${name}" names user "${userName}", which is not defined`);
  const server = typeof cluster.server === 'string' ? cluster.server.replace(/\/+$/, '') : '';
  if (!server) throw new KubeConfigError(`${files.join(delimiter)}: cluster "${clusterName}" has no server`);
  if (!server.startsWith('https://'))
    throw new KubeConfigError(
      `${files.join(delimiter)}: cluster "${clusterName}" server ${server} is not https:// (the webhook never talks to the API in clear)`,
    );
  const source = `kubeconfig ${files.join(delimiter)} (context ${name})`;
  if (user.exec !== undefined || user['auth-provider'] !== undefined) return viaClientNode(files, name, server, source);

  const clusterDir = dirname(config.origin.get(`cluster/${clusterName}`) ?? files[0]!);
  const userDir = dirname(config.origin.get(`user/${userName}`) ?? files[0]!);
  const at = (what: string) => `${files.join(delimiter)}: ${what}`;
  const ca = pemOf(cluster, 'certificate-authority', clusterDir, at(`cluster "${clusterName}"`));
  const cert = pemOf(user, 'client-certificate', userDir, at(`user "${userName}"`));
  const key = pemOf(user, 'client-key', userDir, at(`user "${userName}"`));
  if ((cert === undefined) !== (key === undefined))
    throw new KubeConfigError(at(`user "${userName}" has a client certificate without a key, or a key without a certificate`));
  const headers = staticAuthorization(user, userDir, now);
  const tls: Omit<ConnectionOptions, 'headers'> = {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
  };
  return { server, source, requestOptions: async () => ({ ...tls, headers: headers() }) };
}

function mergeKubeconfigs(files: readonly string[]): Kubeconfig {
  const merged: Kubeconfig = { file: files[0]!, clusters: new Map(), users: new Map(), contexts: new Map(), origin: new Map() };
  for (const file of files) {
    let document: unknown;
    try {
      document = parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new KubeConfigError(`${file}: cannot read the kubeconfig: ${(cause as Error).message}`);
    }
    const config = (document ?? {}) as Record<string, unknown>;
    if (typeof config !== 'object' || Array.isArray(config)) throw new KubeConfigError(`${file}: not a kubeconfig (expected a mapping)`);
    if (merged.currentContext === undefined && typeof config['current-context'] === 'string' && config['current-context'] !== '')
      merged.currentContext = config['current-context'];
    addNamed(merged, 'cluster', merged.clusters, config.clusters, file);
    addNamed(merged, 'user', merged.users, config.users, file);
    addNamed(merged, 'context', merged.contexts, config.contexts, file);
  }
  return merged;
}

function addNamed(
  config: Kubeconfig,
  kind: 'cluster' | 'user' | 'context',
  into: Map<string, Record<string, unknown>>,
  entries: unknown,
  file: string,
): void {
  if (entries === undefined || entries === null) return;
  if (!Array.isArray(entries)) throw new KubeConfigError(`${file}: ${kind}s must be a list`);
  for (const [i, entry] of (entries as Array<Named<unknown>>).entries()) {
    const name = entry?.name;
    if (typeof name !== 'string') throw new KubeConfigError(`${file}: ${kind}s[${i}] has no name`);
    // The first file to define a name wins, as kubectl merges KUBECONFIG.
    if (into.has(name)) continue;
    const value = entry[kind];
    into.set(name, value && typeof value === 'object' ? (value as Record<string, unknown>) : {});
    config.origin.set(`${kind}/${name}`, file);
  }
}

/** `<field>-data` (base64 PEM) or `<field>` (a file, relative to the kubeconfig that set it). */
function pemOf(entry: Record<string, unknown>, field: string, dir: string, where: string): Buffer | undefined {
  const data = entry[`${field}-data`];
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  const file = entry[field];
  if (typeof file !== 'string' || file === '') return undefined;
  const path = isAbsolute(file) ? file : join(dir, file);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new KubeConfigError(
      `${where}: cannot read ${field} ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
    );
  }
}

function staticAuthorization(user: Record<string, unknown>, dir: string, now: () => number): () => Record<string, string> {
  if (typeof user.token === 'string' && user.token !== '') {
    const header = { Authorization: `Bearer ${user.token}` };
    return () => header;
  }
  if (typeof user.tokenFile === 'string' && user.tokenFile !== '') {
    const token = rereadingToken(isAbsolute(user.tokenFile) ? user.tokenFile : join(dir, user.tokenFile), now);
    return () => ({ Authorization: `Bearer ${token()}` });
  }
  if (typeof user.username === 'string' && typeof user.password === 'string') {
    const header = { Authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` };
    return () => header;
  }
  return () => ({});
}

/** The token in `file`, read again once TOKEN_REREAD_MS have passed and the file changed. */
function rereadingToken(file: string, now: () => number): () => string {
  const read = () => readFileSync(file, 'utf8').trim();
  let token = read();
  let checkedAt = now();
  let mtimeMs = statSync(file).mtimeMs;
  return () => {
    if (now() - checkedAt < TOKEN_REREAD_MS) return token;
    checkedAt = now();
    try {
      const changed = statSync(file).mtimeMs;
      if (changed !== mtimeMs) {
        token = read();
        mtimeMs = changed;
      }
    } catch {
      // Mid-rotation the file can be missing for an instant: keep the last token until the next check.
    }
    return token;
  };
}

/** Users with exec or auth-provider plugins: @kubernetes/client-node runs the plugin and caches what it returns. */
async function viaClientNode(files: readonly string[], context: string, server: string, source: string): Promise<ClusterConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more, true);
  }
  kc.setCurrentContext(context);
  return {
    server,
    source: `${source}, credentials from its plugin`,
    requestOptions: async () => {
      const options: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(options as never);
      return { ...options, headers: { ...(options.headers ?? {}) } };
    },
  };
}
