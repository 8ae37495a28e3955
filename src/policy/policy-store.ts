import type { CodedError } from '../errors.ts';
import type { Policy, PolicyDocument } from './types.ts';

/** What the decision path reads: the policy in force. */
export interface PolicyStore {
  /** The policy in force: the last one that loaded cleanly. */
  current(): Policy;
}

export interface PolicyReloadEvent {
  result: 'success' | 'failure' | 'unchanged';
  /** Where the policy came from: the file path, or `sandboxpolicies/<name>`. */
  path: string;
  /** The SandboxPolicy's metadata.generation that was checked (CRD source). */
  generation?: number;
  errors?: CodedError[];
}

/**
 * A policy kept in force from a source that changes (a file, a SandboxPolicy object): the webhook, the drift check,
 * the status writer and the admission policy reconciler read it alike, whatever the source.
 */
export interface ReloadingPolicyStore extends PolicyStore {
  /** policy-digest.ts of the policy in force: what generated admission policies must carry to agree. */
  policyDigest(): string;
  /** The validated document of the policy in force, for generators (render vap/map). */
  document(): PolicyDocument;
  /** Read the source again now; a bad policy leaves the current one in force. */
  reload(): PolicyReloadEvent;
  /** Also tell `listener` of every reload that took a new policy or refused one. */
  onReload(listener: (event: PolicyReloadEvent) => void): void;
  close(): void;
}
