/**
 * One writer among the replicas: leader election on a coordination.k8s.io/v1 Lease, the algorithm of client-go's
 * leaderelection package (client-node 2.0.1 ships none). Every candidate reads the Lease every retry period; the
 * holder renews it, the others take it over once it has not changed for its lease duration, measured on their own
 * clock from when they first saw that version (so clocks that disagree between nodes do not matter, only their
 * rates). Every write is conditional on the resourceVersion read, so two candidates never both win a round.
 *
 * A leader steps down when it has not renewed for the renew deadline (shorter than the lease duration, so it stops
 * before anyone may take over), when it sees another holder, and on stop(), which also releases the Lease (holder
 * emptied) so the next candidate takes over at its next retry instead of after a full lease duration.
 */

export interface LeaseRecord {
  /** '' when released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** RFC 3339 with microseconds, as the Lease API stores MicroTime. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** The Lease object's three calls; errors (conflict, already exists, unreachable) are thrown. */
export interface LeaseStore {
  /** undefined when the Lease does not exist. */
  get(): Promise<StoredLease | undefined>;
  create(record: LeaseRecord): Promise<StoredLease>;
  /** A replace conditional on resourceVersion: a conflict (someone wrote since) is thrown. */
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Election timers never keep the process alive: the server's own listener does.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LeaderElectionTiming {
  /** How long a Lease that stopped changing is held before others may take it. client-go default 15 s. */
  leaseDurationMs: number;
  /** How long a leader keeps leading without a successful renew. client-go default 10 s. */
  renewDeadlineMs: number;
  /** Time between attempts, for the leader and the candidates alike. client-go default 2 s. */
  retryPeriodMs: number;
}

export const DEFAULT_LEADER_ELECTION_TIMING: LeaderElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** The timing client-go accepts: leaseDuration > renewDeadline > retryPeriod (x 1.2 jitter there) > 0. */
export function checkLeaderElectionTiming(timing: LeaderElectionTiming): string | undefined {
  const { leaseDurationMs: lease, renewDeadlineMs: renew, retryPeriodMs: retry } = timing;
  if (!(retry > 0)) return 'the retry period must be positive';
  if (!(renew > retry)) return 'the renew deadline must be longer than the retry period';
  if (!(lease > renew)) return 'the lease duration must be longer than the renew deadline';
  if (lease < 1000) return 'the lease duration must be at least 1s (the Lease stores whole seconds)';
  return undefined;
}

export type LeaseAttempt =
  | { kind: 'create'; record: LeaseRecord }
  | { kind: 'update'; record: LeaseRecord; resourceVersion: string; takeover: boolean }
  | { kind: 'held'; holder: string };

/**
 * What a candidate does with the Lease as it is now: create it, renew it (its own), take it over (released, or
 * unchanged for its duration since `observedAt`), or leave it to its holder. Pure; times in milliseconds.
 */
export function planLeaseAttempt(input: {
  current: StoredLease | undefined;
  /** When this candidate first saw current's resourceVersion (its own clock). */
  observedAt: number;
  now: number;
  identity: string;
  leaseDurationMs: number;
}): LeaseAttempt {
  const { current, now, identity } = input;
  const stamp = formatMicroTime(now);
  const leaseDurationSeconds = Math.ceil(input.leaseDurationMs / 1000);
  if (current === undefined) {
    return {
      kind: 'create',
      record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
    };
  }
  const old = current.record;
  if (old.holderIdentity === identity) {
    return {
      kind: 'update',
      takeover: false,
      resourceVersion: current.resourceVersion,
      record: { ...old, leaseDurationSeconds, renewTime: stamp },
    };
  }
  const expiresAt = input.observedAt + old.leaseDurationSeconds * 1000;
  if (old.holderIdentity !== '' && now < expiresAt) return { kind: 'held', holder: old.holderIdentity };
  return {
    kind: 'update',
    takeover: true,
    resourceVersion: current.resourceVersion,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: stamp,
      renewTime: stamp,
      leaseTransitions: old.leaseTransitions + 1,
    },
  };
}

/** The Lease as released by its holder: nobody holds it, and a candidate may take it at once. */
export function releasedRecord(old: LeaseRecord, now: number): LeaseRecord {
  const stamp = formatMicroTime(now);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: old.leaseTransitions };
}

/** MicroTime as the API server parses it: RFC 3339, six fraction digits. */
export function formatMicroTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}

export interface LeaderElectionLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export interface LeaderElectorOptions {
  store: LeaseStore;
  identity: string;
  timing?: LeaderElectionTiming;
  clock?: Clock;
  log: LeaderElectionLog;
}

export interface LeaderElector {
  /** Take part in the election: the first attempt at once, then every retry period. */
  start(): void;
  /** Leading now: the last renew is younger than the renew deadline, by this process's clock. */
  isLeader(): boolean;
  /** The holder this candidate last saw ('' released, undefined not read yet). */
  holder(): string | undefined;
  identity: string;
  /** Called with true when this replica starts leading and false when it stops; returns the unsubscribe. */
  onChange(listener: (leading: boolean) => void): () => void;
  /** Stop taking part; a leader steps down (listeners told first) and releases the Lease. Never rejects. */
  stop(): Promise<void>;
}

export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const timing = options.timing ?? DEFAULT_LEADER_ELECTION_TIMING;
  const problem = checkLeaderElectionTiming(timing);
  if (problem) throw new Error(`leader election: ${problem}`);
  const clock = options.clock ?? systemClock;
  const { store, identity, log } = options;
  const listeners = new Set<(leading: boolean) => void>();

  let leading = false;
  let lastRenewAt = Number.NEGATIVE_INFINITY;
  let observed: StoredLease | undefined;
  let observedAt = 0;
  let seenHolder: string | undefined;
  let started = false;
  let stopped = false;
  let tickTimer: unknown;
  let deadlineTimer: unknown;
  let inFlight: Promise<void> | undefined;
  let lastError: string | undefined;

  const setLeading = (value: boolean, reason: string): void => {
    if (value === leading) return;
    leading = value;
    clock.clearTimeout(deadlineTimer);
    deadlineTimer = undefined;
    log.info({ identity, reason }, value ? 'started leading' : 'stopped leading');
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        log.warn({ err: String(error) }, 'a leadership listener threw');
      }
    }
  };

  const observe = (lease: StoredLease | undefined): void => {
    if (lease?.resourceVersion !== observed?.resourceVersion) observedAt = clock.now();
    observed = lease;
    const holder = lease?.record.holderIdentity;
    if (holder !== seenHolder && holder !== undefined && holder !== identity)
      log.info({ identity, holder: holder === '' ? null : holder }, 'the Lease holder changed');
    seenHolder = holder;
  };

  const renewed = (lease: StoredLease, takeover: boolean): void => {
    observe(lease);
    lastRenewAt = clock.now();
    setLeading(true, takeover ? 'acquired the Lease' : 'renewed');
    armRenewDeadline();
  };

  // A renew that hangs must not keep us leading: step down at the deadline whatever the request does. Node may run
  // a timer a millisecond before Date.now() says it is due (libuv's loop clock is not the wall clock), so a timer
  // that finds the deadline not yet passed arms itself again for the rest; giving up there would leave the
  // listeners believing we lead, past the point where another replica may take over.
  const armRenewDeadline = (): void => {
    clock.clearTimeout(deadlineTimer);
    const remaining = lastRenewAt + timing.renewDeadlineMs - clock.now();
    deadlineTimer = clock.setTimeout(
      () => {
        deadlineTimer = undefined;
        if (!leading) return;
        if (clock.now() - lastRenewAt >= timing.renewDeadlineMs) setLeading(false, 'renew deadline passed');
        else armRenewDeadline();
      },
      Math.max(1, remaining),
    );
  };

  /** One round; resolves to the delay before the next (earlier than a retry period when a held Lease expires sooner). */
  const attempt = async (): Promise<number> => {
    try {
      const current = await store.get();
      if (stopped) return 0;
      observe(current);
      const plan = planLeaseAttempt({ current, observedAt, now: clock.now(), identity, leaseDurationMs: timing.leaseDurationMs });
      if (plan.kind === 'held') {
        if (leading) setLeading(false, `the Lease is held by ${plan.holder}`);
        // Wake when it expires, so a takeover comes at most one retry period after the holder's last renew was seen.
        const expiresIn = observedAt + (current?.record.leaseDurationSeconds ?? 0) * 1000 - clock.now();
        return Math.max(0, Math.min(timing.retryPeriodMs, expiresIn));
      }
      const lease = plan.kind === 'create' ? await store.create(plan.record) : await store.update(plan.record, plan.resourceVersion);
      if (stopped) return 0;
      renewed(lease, plan.kind === 'create' || plan.takeover);
      lastError = undefined;
    } catch (error) {
      // A conflict is someone else winning this round; anything else is logged once per distinct error.
      const message = describeLeaseError(error);
      if (!isConflict(error) && message !== lastError) log.warn({ identity, error: message }, 'could not read or write the Lease');
      lastError = message;
      if (leading && clock.now() - lastRenewAt >= timing.renewDeadlineMs) setLeading(false, 'renew deadline passed');
    }
    return timing.retryPeriodMs;
  };

  const tick = (): void => {
    tickTimer = undefined;
    if (stopped) return;
    inFlight = attempt().then((delayMs) => {
      inFlight = undefined;
      if (!stopped) tickTimer = clock.setTimeout(tick, delayMs);
    });
  };

  return {
    identity,
    start: () => {
      if (started || stopped) return;
      started = true;
      tick();
    },
    isLeader: () => leading && clock.now() - lastRenewAt < timing.renewDeadlineMs,
    holder: () => seenHolder,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clock.clearTimeout(tickTimer);
      const wasLeading = leading;
      setLeading(false, 'stopping');
      // A round stuck on an unanswered request is not waited for past the renew deadline.
      await withinRenewDeadline(inFlight);
      if (!wasLeading) return;
      const release = async (): Promise<void> => {
        const current = await store.get();
        if (current && current.record.holderIdentity === identity) {
          await store.update(releasedRecord(current.record, clock.now()), current.resourceVersion);
          log.info({ identity }, 'released the Lease');
        }
      };
      // Nor is a release to an API server that does not answer: the others take over when it expires instead.
      const released = release().catch((error: unknown) => {
        log.warn({ identity, error: describeLeaseError(error) }, 'could not release the Lease');
      });
      if (!(await withinRenewDeadline(released)))
        log.warn({ identity }, 'could not release the Lease: no answer within the renew deadline');
    },
  };

  /** true when `work` settled within the renew deadline, false when the deadline came first. */
  async function withinRenewDeadline(work: Promise<unknown> | undefined): Promise<boolean> {
    let timer: unknown;
    const deadline = new Promise<false>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), timing.renewDeadlineMs);
    });
    try {
      return await Promise.race([work === undefined ? true : work.then(() => true), deadline]);
    } finally {
      clock.clearTimeout(timer);
    }
  }
}

function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 409;
}

function describeLeaseError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  return typeof e?.code === 'number' ? `HTTP ${e.code}` : String(e?.message ?? error);
}
