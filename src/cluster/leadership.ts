/**
 * Whether this replica is the one writer (statuses, events, generated admission policies). The Lease election
 * (leader-election.ts) provides the real one; a single replica, or a caller that needs no election, leads alone.
 */
export interface Leadership {
  isLeader(): boolean;
  /** Called with the new state on every change (after it happened). */
  onChange(listener: (leader: boolean) => void): void;
}

/** Always the leader: one replica, tests, and clusters where the election is not wired. */
export const soleLeader: Leadership = { isLeader: () => true, onChange: () => undefined };
