import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkLeaderElectionTiming,
  createLeaderElector,
  formatMicroTime,
  planLeaseAttempt,
  type Clock,
  type LeaseRecord,
  type LeaseStore,
  type StoredLease,
} from '../../../src/cluster/leader-election.ts';

/**
 * Timers that fire only when the test advances the time; promises settle between timers. `earlyMs`: timers run that
 * much before they are due, as Node's may by Date.now() (libuv's loop clock is not the wall clock).
 */
function createFakeClock(start = 1_000_000, earlyMs = 0): Clock & { advance(ms: number): Promise<void> } {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++nextId;
      timers.set(id, { at: now + Math.max(Math.min(ms, 1), ms - earlyMs), fn });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    advance: async (ms) => {
      const end = now + ms;
      await settle();
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await settle();
      }
      now = end;
      await settle();
    },
  };
}

/** One Lease object shared by the candidates: resourceVersions and 409s as the API server gives them. */
function createLeaseServer() {
  let lease: StoredLease | undefined;
  let version = 0;
  let down = false;
  const writes: LeaseRecord[] = [];
  const conflict = () => Object.assign(new Error('conflict'), { code: 409 });
  const store: LeaseStore = {
    get: async () => {
      if (down) throw new Error('connect ECONNREFUSED');
      return lease && structuredClone(lease);
    },
    create: async (record) => {
      if (down) throw new Error('connect ECONNREFUSED');
      if (lease) throw conflict();
      lease = { record: structuredClone(record), resourceVersion: String(++version) };
      writes.push(record);
      return structuredClone(lease);
    },
    update: async (record, resourceVersion) => {
      if (down) throw new Error('connect ECONNREFUSED');
      if (!lease || lease.resourceVersion !== resourceVersion) throw conflict();
      lease = { record: structuredClone(record), resourceVersion: String(++version) };
      writes.push(record);
      return structuredClone(lease);
    },
  };
  return {
    store,
    lease: () => lease,
    writes,
    setDown: (value: boolean) => {
      down = value;
    },
  };
}

const quiet = { info: () => undefined, warn: () => undefined };
const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

describe('planLeaseAttempt', () => {
  const record = (holderIdentity: string, leaseDurationSeconds = 15): LeaseRecord => ({
    holderIdentity,
    leaseDurationSeconds,
    leaseTransitions: 3,
    renewTime: formatMicroTime(0),
  });
  const base = { observedAt: 100_000, identity: 'me', leaseDurationMs: 15_000 };

  it('creates a missing Lease', () => {
    const plan = planLeaseAttempt({ ...base, current: undefined, now: 100_000 });
    assert.equal(plan.kind, 'create');
    assert.deepEqual(plan.kind === 'create' && plan.record, {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: '1970-01-01T00:01:40.000000Z',
      renewTime: '1970-01-01T00:01:40.000000Z',
      leaseTransitions: 0,
    });
  });

  it('renews its own Lease, keeping its acquire time and transitions', () => {
    const current = { record: { ...record('me'), acquireTime: 'then' }, resourceVersion: '7' };
    const plan = planLeaseAttempt({ ...base, current, now: 200_000 });
    assert.deepEqual(plan, {
      kind: 'update',
      takeover: false,
      resourceVersion: '7',
      record: { ...current.record, renewTime: formatMicroTime(200_000) },
    });
  });

  it("leaves another holder's Lease alone until it has not changed for its lease duration on our clock", () => {
    const current = { record: record('other', 15), resourceVersion: '7' };
    assert.deepEqual(planLeaseAttempt({ ...base, current, now: 114_999 }), { kind: 'held', holder: 'other' });
    const plan = planLeaseAttempt({ ...base, current, now: 115_000 });
    assert.equal(plan.kind, 'update');
    assert.ok(plan.kind === 'update' && plan.takeover);
    assert.equal(plan.kind === 'update' && plan.record.leaseTransitions, 4);
    assert.equal(plan.kind === 'update' && plan.record.holderIdentity, 'me');
  });

  it("uses the holder's lease duration, not its own", () => {
    const current = { record: record('other', 30), resourceVersion: '7' };
    assert.equal(planLeaseAttempt({ ...base, current, now: 120_000 }).kind, 'held');
    assert.equal(planLeaseAttempt({ ...base, current, now: 130_000 }).kind, 'update');
  });

  it('takes a released Lease at once', () => {
    const current = { record: record(''), resourceVersion: '7' };
    const plan = planLeaseAttempt({ ...base, current, now: 100_001 });
    assert.ok(plan.kind === 'update' && plan.takeover);
  });

  it('refuses timings client-go refuses', () => {
    assert.equal(checkLeaderElectionTiming(TIMING), undefined);
    assert.match(checkLeaderElectionTiming({ ...TIMING, renewDeadlineMs: 15_000 }) ?? '', /lease duration must be longer/);
    assert.match(checkLeaderElectionTiming({ ...TIMING, retryPeriodMs: 10_000 }) ?? '', /renew deadline must be longer/);
    assert.match(checkLeaderElectionTiming({ ...TIMING, retryPeriodMs: 0 }) ?? '', /positive/);
    assert.throws(() =>
      createLeaderElector({ store: createLeaseServer().store, identity: 'a', timing: { ...TIMING, retryPeriodMs: 0 }, log: quiet }),
    );
  });
});

describe('createLeaderElector', () => {
  function candidates(names: string[]) {
    const clock = createFakeClock();
    const server = createLeaseServer();
    const changes: string[] = [];
    const dead = new Set<string>();
    // A dead candidate's calls never answer: like SIGKILL, it neither renews nor releases.
    const viewOf = (identity: string): LeaseStore => {
      const gate = <T>(call: () => Promise<T>): Promise<T> => (dead.has(identity) ? new Promise<T>(() => undefined) : call());
      return {
        get: () => gate(() => server.store.get()),
        create: (r) => gate(() => server.store.create(r)),
        update: (r, v) => gate(() => server.store.update(r, v)),
      };
    };
    const electors = names.map((identity) => {
      const elector = createLeaderElector({ store: viewOf(identity), identity, timing: TIMING, clock, log: quiet });
      elector.onChange((leading) => changes.push(`${identity}:${leading}`));
      return elector;
    });
    const kill = (identity: string) => dead.add(identity);
    const leaders = () => electors.filter((e) => e.isLeader()).map((e) => e.identity);
    return { clock, server, electors, changes, leaders, kill };
  }

  it('elects exactly one of three candidates, which keeps renewing', async () => {
    const { clock, server, electors, changes, leaders } = candidates(['a', 'b', 'c']);
    for (const e of electors) e.start();
    await clock.advance(0);
    assert.deepEqual(leaders(), ['a']);
    assert.deepEqual(changes, ['a:true']);
    for (let i = 0; i < 30; i++) {
      await clock.advance(1_000);
      assert.deepEqual(leaders(), ['a'], `at ${i + 1} s`);
    }
    assert.equal(server.lease()?.record.holderIdentity, 'a');
    assert.equal(server.lease()?.record.leaseTransitions, 0);
    // Renewed every retry period: 1 create + 15 renews in 30 s.
    assert.equal(server.writes.length, 16);
    assert.equal(electors[1]!.holder(), 'a');
  });

  it('a crashed leader is replaced after the lease duration (plus at most one retry period), never before', async () => {
    const { clock, server, electors, changes, leaders, kill } = candidates(['a', 'b', 'c']);
    for (const e of electors) e.start();
    await clock.advance(0);
    const lastRenew = clock.now();
    kill('a');
    let takeover: number | undefined;
    for (let t = 0; t < 20_000 && takeover === undefined; t += 100) {
      await clock.advance(100);
      if (leaders().some((l) => l !== 'a')) takeover = clock.now() - lastRenew;
    }
    assert.ok(takeover !== undefined, 'nobody took over');
    assert.ok(takeover >= TIMING.leaseDurationMs, `took over after ${takeover} ms`);
    assert.ok(takeover <= TIMING.leaseDurationMs + TIMING.retryPeriodMs, `took over after ${takeover} ms`);
    assert.equal(leaders().length, 1);
    assert.notEqual(leaders()[0], 'a');
    assert.equal(server.lease()?.record.leaseTransitions, 1);
    // "a" stopped leading at its renew deadline, before the takeover.
    assert.equal(changes.indexOf('a:false') < changes.findIndex((c) => c !== 'a:true' && c.endsWith(':true')), true);
  });

  it('stop() steps down, tells the listeners first, and releases the Lease for the next candidate at its next retry', async () => {
    const { clock, server, electors, changes, leaders } = candidates(['a', 'b']);
    for (const e of electors) e.start();
    await clock.advance(0);
    const order: string[] = [];
    electors[0]!.onChange(() => order.push(`listener saw holder ${server.lease()?.record.holderIdentity}`));
    await electors[0]!.stop();
    assert.deepEqual(order, ['listener saw holder a']);
    assert.equal(server.lease()?.record.holderIdentity, '');
    assert.deepEqual(changes, ['a:true', 'a:false']);
    await clock.advance(TIMING.retryPeriodMs);
    assert.deepEqual(leaders(), ['b']);
  });

  it('steps down when it cannot renew before the renew deadline, before anyone may take over', async () => {
    const { clock, server, electors, changes } = candidates(['a']);
    electors[0]!.start();
    await clock.advance(0);
    server.setDown(true);
    await clock.advance(TIMING.renewDeadlineMs - 1);
    assert.equal(electors[0]!.isLeader(), true);
    await clock.advance(1);
    assert.equal(electors[0]!.isLeader(), false);
    assert.deepEqual(changes, ['a:true', 'a:false']);
    server.setDown(false);
    await clock.advance(TIMING.retryPeriodMs);
    // Its own Lease again: renewed, leading again.
    assert.equal(electors[0]!.isLeader(), true);
  });

  /** One candidate on its own Lease; after hang(), none of its calls is ever answered (an API server gone silent). */
  function hangingCandidate(clock: ReturnType<typeof createFakeClock>) {
    const server = createLeaseServer();
    let hung = false;
    const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
    const store: LeaseStore = {
      get: () => (hung ? never() : server.store.get()),
      create: (r) => (hung ? never() : server.store.create(r)),
      update: (r, v) => (hung ? never() : server.store.update(r, v)),
    };
    const elector = createLeaderElector({ store, identity: 'a', timing: TIMING, clock, log: quiet });
    return {
      elector,
      hang: () => {
        hung = true;
      },
    };
  }

  it('steps down at the renew deadline even when a renew never answers', async () => {
    const clock = createFakeClock();
    const { elector, hang } = hangingCandidate(clock);
    elector.start();
    await clock.advance(0);
    hang();
    await clock.advance(TIMING.renewDeadlineMs);
    assert.equal(elector.isLeader(), false);
  });

  it('tells its listeners at the renew deadline when a renew never answers, even when its timer runs a millisecond early', async () => {
    const clock = createFakeClock(1_000_000, 1);
    const { elector, hang } = hangingCandidate(clock);
    const changes: boolean[] = [];
    elector.onChange((leading) => changes.push(leading));
    elector.start();
    await clock.advance(0);
    const renewedAt = clock.now();
    hang();
    await clock.advance(TIMING.renewDeadlineMs + 1);
    assert.deepEqual(changes, [true, false], 'the listeners heard it stop leading');
    assert.ok(clock.now() - renewedAt <= TIMING.renewDeadlineMs + 1);
    // Its store still answers nothing: stop() neither waits for the stuck round nor for a release past the deadline.
    let stopped = false;
    const stopping = elector.stop().then(() => {
      stopped = true;
    });
    await clock.advance(TIMING.renewDeadlineMs + 1);
    assert.equal(stopped, true, 'stop() resolved');
    await stopping;
  });

  it('stop() of a leader whose API server stops answering resolves within two renew deadlines', async () => {
    const clock = createFakeClock();
    const { elector, hang } = hangingCandidate(clock);
    elector.start();
    await clock.advance(0);
    hang();
    let stopped = false;
    void elector.stop().then(() => {
      stopped = true;
    });
    await clock.advance(2 * TIMING.renewDeadlineMs);
    assert.equal(stopped, true);
    assert.equal(elector.isLeader(), false);
  });

  it('steps down at once when it sees another holder', async () => {
    const { clock, server, electors } = candidates(['a']);
    electors[0]!.start();
    await clock.advance(0);
    const lease = server.lease()!;
    await server.store.update({ ...lease.record, holderIdentity: 'intruder' }, lease.resourceVersion);
    await clock.advance(TIMING.retryPeriodMs);
    assert.equal(electors[0]!.isLeader(), false);
  });
});
