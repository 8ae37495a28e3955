import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatCodedError, type CodedError } from '../errors.ts';
import { err, ok, type Result } from '../util/result.ts';
import { policyDigest } from './policy-digest.ts';
import { parsePolicyDocument } from './parse.ts';
import type { PolicyReloadEvent, ReloadingPolicyStore } from './policy-store.ts';
import type { Policy, PolicyDocument } from './types.ts';

export type { PolicyReloadEvent, PolicyStore } from './policy-store.ts';

export type FilePolicyStore = ReloadingPolicyStore;

export interface FilePolicyStoreOptions {
  path: string;
  webhookNamespace: string;
  /** Re-read this often even without a file event: ConfigMap volumes swap a symlink that watchers can miss. */
  pollIntervalMs?: number;
  /** Quiet time after the last file event before the file is read. */
  settleMs?: number;
  onReload?: (event: PolicyReloadEvent) => void;
}

type LoadedPolicy = { policy: Policy; document: PolicyDocument; digest: string; policyDigest: string };

export function loadPolicyFile(path: string, webhookNamespace: string): Result<LoadedPolicy, CodedError[]> {
  const read = readPolicyText(path);
  return read.ok ? parsePolicyText(read.value, webhookNamespace) : read;
}

function readPolicyText(path: string): Result<string, CodedError[]> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (cause) {
    return err([{ code: 'POLICY_READ', path, message: (cause as Error).message }]);
  }
}

function parsePolicyText(text: string, webhookNamespace: string): Result<LoadedPolicy, CodedError[]> {
  const parsed = parsePolicyDocument(text, { webhookNamespace });
  if (!parsed.ok) return parsed;
  const { policy, document } = parsed.value;
  return ok({ policy, document, digest: textDigest(text), policyDigest: policyDigest(document) });
}

const textDigest = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * A policy file kept in force and reloaded on change. The first load must succeed (the caller decides to
 * exit); after that a bad file is refused and reported through onReload, and the last good policy stays.
 */
export function createFilePolicyStore(options: FilePolicyStoreOptions): FilePolicyStore {
  const first = loadPolicyFile(options.path, options.webhookNamespace);
  if (!first.ok) {
    // The message carries every problem: at start-up it is all the user sees before the process exits.
    const error = new Error(`policy ${options.path} is invalid:\n${first.error.map((e) => `  ${formatCodedError(e)}`).join('\n')}`);
    (error as Error & { problems: CodedError[] }).problems = first.error;
    throw error;
  }
  let policy = first.value.policy;
  let digest = first.value.digest;
  let documentDigest = first.value.policyDigest;
  let document = first.value.document;
  let failedDigest: string | undefined;

  const reload = (): PolicyReloadEvent => {
    let loaded: Result<LoadedPolicy, CodedError[]>;
    try {
      const read = readPolicyText(options.path);
      // The poll runs every few seconds: text seen before (in force, or refused already) is not parsed again.
      const seen = read.ok ? textDigest(read.value) : JSON.stringify(read.error);
      if (seen === digest) {
        // Back to the policy in force: the same mistake made again later is news again.
        failedDigest = undefined;
        return { result: 'unchanged', path: options.path };
      }
      if (seen === failedDigest) return { result: 'unchanged', path: options.path };
      loaded = read.ok ? parsePolicyText(read.value, options.webhookNamespace) : read;
      if (!loaded.ok) failedDigest = seen;
    } catch (cause) {
      // A reload runs from a timer: whatever goes wrong must leave the last good policy, never end the process.
      loaded = err([{ code: 'POLICY_READ', path: options.path, message: (cause as Error).message }]);
    }
    if (!loaded.ok) return emit({ result: 'failure', path: options.path, errors: loaded.error });
    failedDigest = undefined;
    policy = loaded.value.policy;
    digest = loaded.value.digest;
    documentDigest = loaded.value.policyDigest;
    document = loaded.value.document;
    return emit({ result: 'success', path: options.path });
  };
  const listeners: Array<(event: PolicyReloadEvent) => void> = [];
  const emit = (event: PolicyReloadEvent): PolicyReloadEvent => {
    options.onReload?.(event);
    for (const listener of listeners) listener(event);
    return event;
  };

  let watcher: FSWatcher | undefined;
  let settle: NodeJS.Timeout | undefined;
  try {
    // Watch the directory: editors and kubelet replace the file (rename), which a file watch loses. Events come
    // in bursts while a file is written in place; reading after they settle avoids judging a half-written file.
    const name = basename(options.path);
    watcher = watch(dirname(options.path), { persistent: false }, (_event, changed) => {
      // Only the file itself, an editor's temporary beside it, or the kubelet's ..data symlink swap of a ConfigMap
      // volume: other files written in the same directory (logs) would otherwise keep postponing the reload.
      if (changed && !changed.startsWith(name) && !changed.startsWith('..') && !changed.startsWith(`.${name}`)) return;
      clearTimeout(settle);
      settle = setTimeout(reload, options.settleMs ?? 150);
      settle.unref();
    });
    // The poll below still reloads if the watch breaks (the directory replaced, inotify limits).
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(reload, options.pollIntervalMs ?? 2000);
  timer.unref();

  return {
    current: () => policy,
    policyDigest: () => documentDigest,
    document: () => document,
    reload,
    onReload: (listener) => {
      listeners.push(listener);
    },
    close: () => {
      clearInterval(timer);
      clearTimeout(settle);
      watcher?.close();
    },
  };
}
