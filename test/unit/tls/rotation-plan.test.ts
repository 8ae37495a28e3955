import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CaFacts, CertificateFacts, ServingFacts } from '../../../src/tls/certificate-state.ts';
import { findRenewalTime, planRotation, type RotationPolicy } from '../../../src/tls/rotation-plan.ts';

const day = 24 * 60 * 60 * 1000;
const t0 = Date.parse('2026-01-01T00:00:00Z');
const policy: RotationPolicy = { renewAtFraction: 2 / 3, settleMs: 5 * 60 * 1000 };

/** A CA valid from t0 + startDays for lifeDays. */
function ca(name: string, startDays: number, lifeDays: number): CaFacts {
  return {
    pem: `${name}-pem`,
    fingerprint: name,
    notBefore: new Date(t0 + startDays * day),
    notAfter: new Date(t0 + (startDays + lifeDays) * day),
  };
}

function serving(issuer: string, startDays: number, lifeDays: number): ServingFacts {
  return {
    kind: 'usable',
    fingerprint: `leaf-of-${issuer}`,
    issuerFingerprint: issuer,
    notBefore: new Date(t0 + startDays * day),
    notAfter: new Date(t0 + (startDays + lifeDays) * day),
  };
}

function present(signer: CaFacts, bundle: CaFacts[], leaf: ServingFacts, changedAtDays?: number): CertificateFacts {
  return {
    kind: 'present',
    signer,
    bundle,
    serving: leaf,
    changedAt: changedAtDays === undefined ? undefined : new Date(t0 + changedAtDays * day),
  };
}

function at(days: number, bundlePublished = true) {
  return { now: new Date(t0 + days * day), bundlePublished, policy };
}

const a = ca('A', 0, 300);
const b = ca('B', 200, 300);

describe('planRotation: start-up and broken Secrets', () => {
  it('creates everything when there is no Secret', () => {
    assert.deepEqual(planRotation({ kind: 'absent' }, at(0)), { kind: 'create', reason: 'missing' });
  });

  it('creates everything when no CA in the Secret matches its key', () => {
    assert.deepEqual(planRotation({ kind: 'unusable', problem: 'key-matches-no-ca' }, at(0)), {
      kind: 'create',
      reason: 'key-matches-no-ca',
    });
  });

  it('creates everything once the signing CA has expired', () => {
    assert.deepEqual(planRotation(present(a, [a], serving('A', 0, 30)), at(300)), { kind: 'create', reason: 'ca-expired' });
  });

  it('replaces an unusable serving certificate at once, without waiting for anything', () => {
    const facts = present(a, [a], { kind: 'unusable', problem: 'missing-dns-name' }, 10);
    assert.deepEqual(planRotation(facts, at(10, false)), { kind: 'issue-serving', reason: 'missing-dns-name' });
  });

  it('replaces an expired serving certificate at once', () => {
    assert.deepEqual(planRotation(present(a, [a], serving('A', 0, 30)), at(30)), { kind: 'issue-serving', reason: 'expired' });
  });
});

describe('planRotation: renewal under the same CA', () => {
  it('keeps valid certificates and says when to look again', () => {
    const plan = planRotation(present(a, [a], serving('A', 0, 90)), at(10));
    assert.deepEqual(plan, { kind: 'keep', nextAt: new Date(t0 + 60 * day) });
  });

  it('renews the serving certificate at two thirds of its lifetime, not a moment before', () => {
    const facts = present(a, [a], serving('A', 0, 90));
    assert.equal(planRotation(facts, { ...at(0), now: new Date(t0 + 60 * day - 1) }).kind, 'keep');
    assert.deepEqual(planRotation(facts, at(60)), { kind: 'issue-serving', reason: 'renewal' });
  });

  it('renews a serving certificate even while the bundle is not published: the CA does not change', () => {
    assert.deepEqual(planRotation(present(a, [a], serving('A', 0, 90)), at(61, false)), { kind: 'issue-serving', reason: 'renewal' });
  });
});

describe('planRotation: CA rotation, one step at a time', () => {
  it('1. starts a CA rotation at two thirds of the CA lifetime, before a serving renewal due at the same time', () => {
    assert.deepEqual(planRotation(present(a, [a], serving('A', 150, 90)), at(200)), { kind: 'rotate-ca', reason: 'ca-renewal' });
  });

  it('2a. waits for the two-CA bundle to settle before serving from the new CA', () => {
    const facts = present(b, [a, b], serving('A', 150, 90), 200);
    const plan = planRotation(facts, { ...at(200), now: new Date(t0 + 200 * day + 60_000) });
    assert.deepEqual(plan, { kind: 'wait', reason: 'settling', until: new Date(t0 + 200 * day + policy.settleMs) });
  });

  it('2b. waits while the webhook configurations do not carry the bundle, however long it has settled', () => {
    const facts = present(b, [a, b], serving('A', 150, 90), 200);
    assert.deepEqual(planRotation(facts, at(201, false)), { kind: 'wait', reason: 'bundle-not-published', until: undefined });
  });

  it('2c. issues a serving certificate from the new CA once settled and published', () => {
    const facts = present(b, [a, b], serving('A', 150, 90), 200);
    assert.deepEqual(planRotation(facts, at(201)), { kind: 'issue-serving', reason: 'ca-rotation' });
  });

  it('3a. keeps the old CA in the bundle while replicas may still serve its certificate', () => {
    const facts = present(b, [a, b], serving('B', 201, 90), 201);
    assert.deepEqual(planRotation(facts, at(201)), { kind: 'wait', reason: 'settling', until: new Date(t0 + 201 * day + policy.settleMs) });
  });

  it('3b. drops the old CA once the new serving certificate has settled', () => {
    const facts = present(b, [a, b], serving('B', 201, 90), 201);
    assert.deepEqual(planRotation(facts, at(202)), { kind: 'drop-cas', reason: 'ca-rotation-complete', fingerprints: ['A'] });
  });

  it('4. is back to keep with only the new CA', () => {
    assert.equal(planRotation(present(b, [b], serving('B', 201, 90), 202), at(202)).kind, 'keep');
  });

  it('treats a Secret without a change time (made by hand) as settled', () => {
    assert.deepEqual(planRotation(present(b, [a, b], serving('A', 150, 90)), at(200)), { kind: 'issue-serving', reason: 'ca-rotation' });
  });

  it('drops an expired CA at once, without waiting: it verifies nothing', () => {
    const old = ca('OLD', -400, 300);
    const facts = present(a, [old, a], serving('A', 0, 90), 0);
    assert.deepEqual(planRotation(facts, at(0)), { kind: 'drop-cas', reason: 'expired', fingerprints: ['OLD'] });
  });

  it('reissues from the signer when the CA that issued the serving certificate has expired', () => {
    const old = ca('OLD', -300, 300);
    const facts = present(a, [old, a], serving('OLD', -10, 90), -1);
    assert.deepEqual(planRotation(facts, at(0)), { kind: 'issue-serving', reason: 'issuer-expired' });
  });
});

describe('findRenewalTime', () => {
  it('is the given fraction of the way from notBefore to notAfter', () => {
    assert.equal(findRenewalTime({ notBefore: new Date(0), notAfter: new Date(3000) }, { renewAtFraction: 2 / 3 }).getTime(), 2000);
  });
});
