import { createCertificateAuthority, createServingCertificate } from './certificates.ts';
import { mergeCaBundles } from './ca-bundle.ts';
import type { CertificateFacts, CertificateMaterial, SubjectAltNames } from './certificate-state.ts';
import type { RotationPlan } from './rotation-plan.ts';

/** What new certificates look like. Times are days, fractions allowed (tests use minutes). */
export type IssuancePolicy = SubjectAltNames & {
  /** Prefix of the CA's common name; the issue time is appended so two CAs never share a subject. PrintableString characters only. */
  caName: string;
  /** The serving certificate's common name (for humans; verifiers use the SANs). */
  commonName: string;
  caValidityDays: number;
  servingValidityDays: number;
};

export const defaultCaValidityDays = 3650;
export const defaultServingValidityDays = 90;

const dayMs = 24 * 60 * 60 * 1000;
// X.520 ub-common-name.
const maxCommonNameLength = 64;

export type RotationStep = Exclude<RotationPlan, { kind: 'wait' } | { kind: 'keep' }>;

/** The Secret content after `step`; key generation is the only thing here that is not a pure function. */
export function applyRotationStep(
  step: RotationStep,
  facts: CertificateFacts,
  material: Partial<CertificateMaterial> | undefined,
  now: Date,
  policy: IssuancePolicy,
): CertificateMaterial {
  if (step.kind === 'create') {
    const ca = issueCa(now, policy);
    const serving = issueServing({ certPem: ca.certPem, keyPem: ca.keyPem, notAfter: ca.notAfter }, now, policy);
    return { caBundlePem: ca.certPem, caKeyPem: ca.keyPem, certPem: serving.certPem, keyPem: serving.keyPem };
  }
  if (facts.kind !== 'present' || material?.caKeyPem === undefined || material.caBundlePem === undefined) {
    throw new Error(`cannot ${step.kind} without a usable CA in the Secret`);
  }
  const current: CertificateMaterial = {
    caBundlePem: material.caBundlePem,
    caKeyPem: material.caKeyPem,
    certPem: material.certPem ?? '',
    keyPem: material.keyPem ?? '',
  };
  switch (step.kind) {
    case 'rotate-ca': {
      const ca = issueCa(now, policy);
      // The old CA stays until the old serving certificate is gone; the new one signs from now on.
      return { ...current, caBundlePem: mergeCaBundles([current.caBundlePem, ca.certPem], { now }), caKeyPem: ca.keyPem };
    }
    case 'issue-serving': {
      const serving = issueServing({ certPem: facts.signer.pem, keyPem: current.caKeyPem, notAfter: facts.signer.notAfter }, now, policy);
      return { ...current, certPem: serving.certPem, keyPem: serving.keyPem };
    }
    case 'drop-cas':
      return { ...current, caBundlePem: mergeCaBundles([current.caBundlePem], { drop: step.fingerprints }) };
  }
}

/** What a replica serves and trusts, remembered from the last Secret it adopted. */
export type ServedCertificates = { caBundlePem: string; certPem: string; keyPem: string };

/**
 * A Secret to replace one that vanished or broke while replicas still serve `served`: a new signing CA next to
 * the CAs the webhook configurations already trust, and the serving certificate that is being served now. That
 * is the state after step 1 of a CA rotation, so the planner finishes it as one, and nothing served or
 * published in between is ever untrusted (a plain `create` would publish only the new CA while the other
 * replicas still serve the old certificate, until their next poll).
 */
export function buildRecoveryMaterial(served: ServedCertificates, now: Date, policy: IssuancePolicy): CertificateMaterial {
  const ca = issueCa(now, policy);
  return {
    caBundlePem: mergeCaBundles([served.caBundlePem, ca.certPem], { now }),
    caKeyPem: ca.keyPem,
    certPem: served.certPem,
    keyPem: served.keyPem,
  };
}

function issueCa(now: Date, policy: IssuancePolicy): { certPem: string; keyPem: string; notAfter: Date } {
  // Not kube's `name@seconds`: '@' is no PrintableString character, and Go's x509 would refuse the CA.
  const suffix = `-${Math.floor(now.getTime() / 1000)}`;
  const commonName = `${policy.caName.slice(0, maxCommonNameLength - suffix.length)}${suffix}`;
  return createCertificateAuthority({ commonName, validityDays: policy.caValidityDays, now });
}

function issueServing(
  ca: { certPem: string; keyPem: string; notAfter: Date },
  now: Date,
  policy: IssuancePolicy,
): { certPem: string; keyPem: string } {
  // A serving certificate that outlives its CA would fail verification from the CA's expiry on.
  const caRemainingDays = (ca.notAfter.getTime() - now.getTime()) / dayMs;
  const validityDays = Math.min(policy.servingValidityDays, caRemainingDays);
  return createServingCertificate(ca, {
    commonName: policy.commonName.slice(0, maxCommonNameLength),
    dnsNames: policy.dnsNames,
    ipAddresses: policy.ipAddresses,
    validityDays,
    now,
  });
}
