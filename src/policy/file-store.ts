import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { formatCodedError, type CodedError } from '../errors.ts';
import { err, ok, type Result } from '../util/result.ts';
import { policyDigest } from './policy-digest.ts';
import { parsePolicyDocument } from './vap/parse-document.ts';
import type { Policy } from './types.ts';

export interface PolicyStore {
  /** The policy in force: the last one that loaded cleanly. */
  current(): Policy;
}

export interface PolicyReloadEvent {
  result: 'success' | 'failure' | 'unchanged';
  path: string;
  errors?: CodedError[];
}

export interface FilePolicyStore extends PolicyStore {
  /** policy-digest.ts of the policy in force: what generated ValidatingAdmissionPolicies must carry to agree. */
  policyDigest(): string;
  /** Read the file again now; a bad file leaves the current policy in force. */
  reload(): PolicyReloadEvent;
  close(): void;
}

export interface FilePolicyStoreOptions {
  path: string;
  webhookNamespace: string;
  /** Re-read this often even without a file event: ConfigMap volumes swap a symlink that watchers can miss. */
  pollIntervalMs?: number;
  /** Quiet time after the last file event before the file is read. */
  settleMs?: number;
  onReload?: (event: PolicyReloadEvent) => void;
}

export function loadPolicyFile(path: string, webhookNamespace: string): Result<{ policy: Policy; digest: string; policyDigest: string }, CodedError[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    return err([{ code: 'POLICY_READ', path, message: (cause as Error).message }]);
  }
  const parsed = parsePolicyDocument(text, { webhookNamespace });
  if (!parsed.ok) return parsed;
  return ok({ policy: parsed.value.policy, digest: createHash('sha256').update(text).digest('hex'), policyDigest: policyDigest(parsed.value.document) });
}

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
  let failedDigest: string | undefined;

  const reload = (): PolicyReloadEvent => {
    let loaded: ReturnType<typeof loadPolicyFile>;
    try {
      loaded = loadPolicyFile(options.path, options.webhookNamespace);
    } catch (cause) {
      // A reload runs from a timer: whatever goes wrong must leave the last good policy, never end the process.
      loaded = err([{ code: 'POLICY_READ', path: options.path, message: (cause as Error).message }]);
    }
    if (!loaded.ok) {
      // Report a given bad content once, not on every poll.
      const key = JSON.stringify(loaded.error);
      if (key === failedDigest) return { result: 'unchanged', path: options.path };
      failedDigest = key;
      return emit({ result: 'failure', path: options.path, errors: loaded.error });
    }
    failedDigest = undefined;
    if (loaded.value.digest === digest) return { result: 'unchanged', path: options.path };
    policy = loaded.value.policy;
    digest = loaded.value.digest;
    documentDigest = loaded.value.policyDigest;
    return emit({ result: 'success', path: options.path });
  };
  const emit = (event: PolicyReloadEvent): PolicyReloadEvent => {
    options.onReload?.(event);
    return event;
  };

  let watcher: FSWatcher | undefined;
  let settle: NodeJS.Timeout | undefined;
  try {
    // Watch the directory: editors and kubelet replace the file (rename), which a file watch loses. Events come
    // in bursts while a file is written in place; reading after they settle avoids judging a half-written file.
    watcher = watch(dirname(options.path), { persistent: false }, () => {
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
    reload,
    close: () => {
      clearInterval(timer);
      clearTimeout(settle);
      watcher?.close();
    },
  };
}
