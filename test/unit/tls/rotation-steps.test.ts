import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { listBundleFingerprints } from '../../../src/tls/ca-bundle.ts';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import {
  buildServiceDnsNames,
  inspectCertificates,
  type CertificateFacts,
  type CertificateMaterial,
} from '../../../src/tls/certificate-state.ts';
import { planRotation, type RotationPlan } from '../../../src/tls/rotation-plan.ts';
import { applyRotationStep, buildRecoveryMaterial, type IssuancePolicy, type RotationStep } from '../../../src/tls/rotation-steps.ts';

const day = 24 * 60 * 60 * 1000;
const t0 = new Date('2026-01-01T00:00:00Z');
const issuance: IssuancePolicy = {
  caName: 'sandbox-admission-ca',
  commonName: 'sandbox-admission.webhooks.svc',
  dnsNames: buildServiceDnsNames('sandbox-admission', 'webhooks'),
  ipAddresses: ['127.0.0.1'],
  caValidityDays: 30,
  servingValidityDays: 9,
};
const settleMs = 60_000;

function present(facts: CertificateFacts): Extract<CertificateFacts, { kind: 'present' }> {
  assert.equal(facts.kind, 'present');
  return facts as Extract<CertificateFacts, { kind: 'present' }>;
}

function step(plan: RotationPlan): RotationStep {
  assert.ok(plan.kind !== 'keep' && plan.kind !== 'wait', `expected a step, got ${plan.kind}`);
  return plan as RotationStep;
}

const created = applyRotationStep({ kind: 'create', reason: 'missing' }, { kind: 'absent' }, undefined, t0, issuance);

describe('inspectCertificates', () => {
  it('reads a created Secret: one CA that signs, a serving certificate from it that fits the service', () => {
    const facts = present(inspectCertificates(created, issuance, t0));
    assert.equal(facts.bundle.length, 1);
    assert.equal(facts.signer.fingerprint, facts.bundle[0]?.fingerprint);
    assert.equal(facts.serving.kind, 'usable');
    assert.equal(facts.serving.kind === 'usable' && facts.serving.issuerFingerprint, facts.signer.fingerprint);
    assert.deepEqual(facts.changedAt, t0);
  });

  it('says absent, missing or unreadable for what is not there', () => {
    assert.deepEqual(inspectCertificates(undefined, issuance, undefined), { kind: 'absent' });
    assert.deepEqual(inspectCertificates({ certPem: created.certPem }, issuance, undefined), { kind: 'unusable', problem: 'missing' });
    assert.deepEqual(inspectCertificates({ ...created, caBundlePem: 'junk' }, issuance, undefined), {
      kind: 'unusable',
      problem: 'unreadable',
    });
  });

  it('refuses a CA key that belongs to no CA of the bundle', () => {
    const other = createCertificateAuthority({ commonName: 'other', validityDays: 1, now: t0 });
    assert.deepEqual(inspectCertificates({ ...created, caKeyPem: other.keyPem }, issuance, undefined), {
      kind: 'unusable',
      problem: 'key-matches-no-ca',
    });
  });

  it('finds the serving certificate problems the API server would trip on', () => {
    const foreignCa = createCertificateAuthority({ commonName: 'foreign', validityDays: 1, now: t0 });
    const foreign = createServingCertificate(foreignCa, {
      commonName: 'x',
      dnsNames: issuance.dnsNames,
      ipAddresses: ['127.0.0.1'],
      validityDays: 1,
      now: t0,
    });
    const serving = (material: Partial<CertificateMaterial>, sans = issuance) =>
      present(inspectCertificates({ ...created, ...material }, sans, undefined)).serving;
    assert.deepEqual(serving({ certPem: foreign.certPem, keyPem: foreign.keyPem }), { kind: 'unusable', problem: 'not-signed-by-bundle' });
    assert.deepEqual(serving({ keyPem: foreign.keyPem }), { kind: 'unusable', problem: 'key-mismatch' });
    assert.deepEqual(serving({ certPem: '' }), { kind: 'unusable', problem: 'missing' });
    assert.deepEqual(serving({}, { ...issuance, dnsNames: [...issuance.dnsNames, 'elsewhere.example'] }), {
      kind: 'unusable',
      problem: 'missing-dns-name',
    });
    assert.deepEqual(serving({}, { ...issuance, ipAddresses: ['10.0.0.1'] }), { kind: 'unusable', problem: 'missing-ip-address' });
  });
});

describe('applyRotationStep', () => {
  it('rotate-ca adds a new signing CA beside the old one and leaves the serving certificate alone', () => {
    const facts = present(inspectCertificates(created, issuance, t0));
    const now = new Date(t0.getTime() + 21 * day);
    const rotated = applyRotationStep({ kind: 'rotate-ca', reason: 'ca-renewal' }, facts, created, now, issuance);
    const after = present(inspectCertificates(rotated, issuance, now));
    assert.equal(after.bundle.length, 2);
    assert.equal(after.bundle[0]?.fingerprint, facts.signer.fingerprint, 'the old CA stays first');
    assert.notEqual(after.signer.fingerprint, facts.signer.fingerprint);
    assert.equal(rotated.certPem, created.certPem);
    assert.notEqual(
      new X509Certificate(after.signer.pem).subject,
      new X509Certificate(facts.signer.pem).subject,
      'two CAs never share a subject',
    );
  });

  it('issue-serving signs with the signer and never outlives it', () => {
    const facts = present(inspectCertificates(created, issuance, t0));
    const now = new Date(t0.getTime() + 25 * day);
    const reissued = applyRotationStep({ kind: 'issue-serving', reason: 'renewal' }, facts, created, now, issuance);
    const serving = present(inspectCertificates(reissued, issuance, now)).serving;
    assert.equal(serving.kind, 'usable');
    assert.equal(serving.kind === 'usable' && serving.issuerFingerprint, facts.signer.fingerprint);
    assert.ok(serving.kind === 'usable' && serving.notAfter.getTime() <= facts.signer.notAfter.getTime());
    assert.equal(reissued.caBundlePem, created.caBundlePem);
  });

  it('drop-cas removes exactly the given CAs', () => {
    const facts = present(inspectCertificates(created, issuance, t0));
    const rotated = applyRotationStep({ kind: 'rotate-ca', reason: 'ca-renewal' }, facts, created, t0, issuance);
    const dropped = applyRotationStep(
      { kind: 'drop-cas', reason: 'ca-rotation-complete', fingerprints: [facts.signer.fingerprint] },
      present(inspectCertificates(rotated, issuance, t0)),
      rotated,
      t0,
      issuance,
    );
    assert.deepEqual(listBundleFingerprints(dropped.caBundlePem), [present(inspectCertificates(rotated, issuance, t0)).signer.fingerprint]);
  });

  it('refuses a step that needs a CA when there is none', () => {
    assert.throws(
      () => applyRotationStep({ kind: 'issue-serving', reason: 'renewal' }, { kind: 'absent' }, undefined, t0, issuance),
      /without a usable CA/,
    );
  });
});

describe('a CA rotation walked with an injected clock', () => {
  it('never serves a certificate whose CA was not already in the published bundle, and ends with one CA', () => {
    // Serving certificates as long as the CA (capped to it), so the CA's renewal comes first.
    const longServing = { ...issuance, servingValidityDays: 30 };
    let material = applyRotationStep({ kind: 'create', reason: 'missing' }, { kind: 'absent' }, undefined, t0, longServing);
    let changedAt = t0;
    let now = new Date(t0.getTime() + 21 * day); // past two thirds of the CA's lifetime
    const steps: string[] = [];
    for (let i = 0; i < 10; i++) {
      const facts = inspectCertificates(material, issuance, changedAt);
      const plan = planRotation(facts, { now, bundlePublished: true, policy: { renewAtFraction: 2 / 3, settleMs } });
      if (plan.kind === 'keep') break;
      if (plan.kind === 'wait') {
        now = new Date(now.getTime() + settleMs);
        continue;
      }
      const next = applyRotationStep(step(plan), facts, material, now, longServing);
      const before = listBundleFingerprints(material.caBundlePem);
      const after = present(inspectCertificates(next, issuance, now));
      // The invariant of the whole design: the certificate served after a write was trusted before it.
      if (after.serving.kind === 'usable' && next.certPem !== material.certPem)
        assert.ok(before.includes(after.serving.issuerFingerprint), `${plan.kind} served an untrusted certificate`);
      steps.push(plan.kind === 'issue-serving' ? `${plan.kind}:${plan.reason}` : plan.kind);
      material = next;
      changedAt = now;
    }
    assert.deepEqual(steps, ['rotate-ca', 'issue-serving:ca-rotation', 'drop-cas']);
    const final = present(inspectCertificates(material, issuance, changedAt));
    assert.equal(final.bundle.length, 1);
    assert.equal(final.serving.kind === 'usable' && final.serving.issuerFingerprint, final.signer.fingerprint);
  });
});

describe('buildRecoveryMaterial', () => {
  it('keeps the served certificate and its CA, and adds a new signing CA: step 1 of a rotation', () => {
    const served = { caBundlePem: created.caBundlePem, certPem: created.certPem, keyPem: created.keyPem };
    const now = new Date(t0.getTime() + day);
    const rebuilt = buildRecoveryMaterial(served, now, issuance);
    const facts = present(inspectCertificates(rebuilt, issuance, now));
    assert.equal(rebuilt.certPem, created.certPem);
    assert.equal(facts.bundle.length, 2);
    assert.equal(facts.serving.kind === 'usable' && facts.serving.issuerFingerprint, facts.bundle[0]?.fingerprint);
    assert.notEqual(facts.signer.fingerprint, facts.bundle[0]?.fingerprint);
    assert.deepEqual(planRotation(facts, { now, bundlePublished: true, policy: { renewAtFraction: 2 / 3, settleMs } }), {
      kind: 'wait',
      reason: 'settling',
      until: new Date(now.getTime() + settleMs),
    });
  });
});
