import type { CaFacts, CaProblem, CertificateFacts, ServingProblem } from './certificate-state.ts';

/**
 * What to do with the certificate Secret now: a pure function of what it holds, the time, and whether the
 * webhook configurations already carry its CA bundle.
 *
 * A CA rotation is three writes, each one only once the previous has reached everyone who must see it:
 *   1. rotate-ca      bundle [old, new], new CA signs; the old serving certificate stays.
 *                     Every replica publishes the two-CA bundle into the webhooks' caBundle.
 *   2. issue-serving  (reason ca-rotation) once the bundle has settled and is published: a serving
 *                     certificate from the new CA, which the API server already trusts.
 *   3. drop-old-cas   once that has settled (every replica serves the new certificate): bundle [new].
 * A serving renewal under the same CA is one write and changes no bundle.
 */

export type RotationPolicy = {
  /** Renew a certificate once this fraction of its lifetime has passed. */
  renewAtFraction: number;
  /**
   * How long a rotation step must have been in the Secret before the next one: longer than every
   * replica's Secret poll plus the API server's webhook configuration propagation.
   */
  settleMs: number;
};

export const defaultRotationPolicy: RotationPolicy = { renewAtFraction: 2 / 3, settleMs: 5 * 60 * 1000 };

export type CreateReason = 'missing' | 'ca-expired' | CaProblem;
export type ServingReason = 'expired' | 'issuer-expired' | 'renewal' | 'ca-rotation' | ServingProblem;

export type RotationPlan =
  /** Nothing usable: a new CA and a new serving certificate. */
  | { kind: 'create'; reason: CreateReason }
  /** Step 1: a new signing CA, added to the bundle beside the current one. */
  | { kind: 'rotate-ca'; reason: 'ca-renewal' }
  /** A new serving certificate from the signing CA. */
  | { kind: 'issue-serving'; reason: ServingReason }
  /** Step 3, or expired CAs: these fingerprints leave the bundle. */
  | { kind: 'drop-cas'; reason: 'ca-rotation-complete' | 'expired'; fingerprints: string[] }
  /** A step is due but must not be taken yet. */
  | { kind: 'wait'; reason: 'settling' | 'bundle-not-published'; until: Date | undefined }
  /** Nothing to do before `nextAt`. */
  | { kind: 'keep'; nextAt: Date };

export type RotationInput = {
  now: Date;
  /** Every webhook configuration's caBundle holds exactly the Secret's bundle (as last checked). */
  bundlePublished: boolean;
  policy: RotationPolicy;
};

export function planRotation(facts: CertificateFacts, input: RotationInput): RotationPlan {
  const { now, policy } = input;
  if (facts.kind === 'absent') return { kind: 'create', reason: 'missing' };
  if (facts.kind === 'unusable') return { kind: 'create', reason: facts.problem };
  const { signer, bundle, serving } = facts;
  if (isExpired(signer, now)) return { kind: 'create', reason: 'ca-expired' };

  // A serving certificate the API server would refuse now is replaced at once: there is no window to protect.
  if (serving.kind === 'unusable') return { kind: 'issue-serving', reason: serving.problem };
  if (serving.notAfter.getTime() <= now.getTime()) return { kind: 'issue-serving', reason: 'expired' };
  const issuer = bundle.find((ca) => ca.fingerprint === serving.issuerFingerprint);
  if (issuer === undefined || isExpired(issuer, now)) return { kind: 'issue-serving', reason: 'issuer-expired' };

  const settledAt = facts.changedAt === undefined ? now : new Date(facts.changedAt.getTime() + policy.settleMs);
  const settled = settledAt.getTime() <= now.getTime();

  // Step 2 pending: the serving certificate still comes from the previous CA.
  if (issuer.fingerprint !== signer.fingerprint) {
    if (!settled) return { kind: 'wait', reason: 'settling', until: settledAt };
    if (!input.bundlePublished) return { kind: 'wait', reason: 'bundle-not-published', until: undefined };
    return { kind: 'issue-serving', reason: 'ca-rotation' };
  }

  // Step 3 pending: CAs other than the signer. Expired ones verify nothing and can go at once.
  const others = bundle.filter((ca) => ca.fingerprint !== signer.fingerprint);
  const expired = others.filter((ca) => isExpired(ca, now)).map((ca) => ca.fingerprint);
  if (others.length > 0 && settled)
    return { kind: 'drop-cas', reason: 'ca-rotation-complete', fingerprints: others.map((ca) => ca.fingerprint) };
  if (expired.length > 0) return { kind: 'drop-cas', reason: 'expired', fingerprints: expired };
  if (others.length > 0) return { kind: 'wait', reason: 'settling', until: settledAt };

  const caRenewAt = findRenewalTime(signer, policy);
  if (caRenewAt.getTime() <= now.getTime()) return { kind: 'rotate-ca', reason: 'ca-renewal' };
  const servingRenewAt = findRenewalTime(serving, policy);
  if (servingRenewAt.getTime() <= now.getTime()) return { kind: 'issue-serving', reason: 'renewal' };
  return { kind: 'keep', nextAt: new Date(Math.min(caRenewAt.getTime(), servingRenewAt.getTime())) };
}

/** When a certificate is due for renewal: `renewAtFraction` of the way from notBefore to notAfter. */
export function findRenewalTime(cert: Pick<CaFacts, 'notBefore' | 'notAfter'>, policy: Pick<RotationPolicy, 'renewAtFraction'>): Date {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notBefore.getTime() + Math.floor(lifetime * policy.renewAtFraction));
}

function isExpired(cert: Pick<CaFacts, 'notAfter'>, now: Date): boolean {
  return cert.notAfter.getTime() <= now.getTime();
}
