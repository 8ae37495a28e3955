import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { splitPemBundle } from './ca-bundle.ts';

/**
 * What the certificate Secret holds, and what can be said about it without a clock: which CA signs, which
 * CAs are trusted, which CA issued the serving certificate and whether that certificate fits the service.
 * Time (renewal, expiry) is the planner's business (rotation-plan.ts). Pure: no I/O.
 */

/** The Secret's content. `caBundlePem` may hold two CAs while a CA rotation is under way. */
export type CertificateMaterial = {
  /** ca.crt: every CA the API server must trust (what goes into the webhooks' caBundle). */
  caBundlePem: string;
  /** ca.key: the key of the signing CA, one of the bundle's certificates. */
  caKeyPem: string;
  /** tls.crt / tls.key: the serving certificate and its key. */
  certPem: string;
  keyPem: string;
};

export type CaFacts = { pem: string; fingerprint: string; notBefore: Date; notAfter: Date };

export type ServingProblem = 'missing' | 'unreadable' | 'key-mismatch' | 'not-signed-by-bundle' | 'missing-dns-name' | 'missing-ip-address';

export type ServingFacts =
  | { kind: 'usable'; fingerprint: string; issuerFingerprint: string; notBefore: Date; notAfter: Date }
  | { kind: 'unusable'; problem: ServingProblem };

export type CaProblem = 'missing' | 'unreadable' | 'key-matches-no-ca';

export type CertificateFacts =
  | { kind: 'absent' }
  | { kind: 'unusable'; problem: CaProblem }
  | {
      kind: 'present';
      /** The bundle CA whose key is ca.key: new serving certificates are signed by it. */
      signer: CaFacts;
      /** Every CA in ca.crt, signer included, in bundle order. */
      bundle: CaFacts[];
      serving: ServingFacts;
      /** When the last rotation step was written; undefined for a Secret someone else made. */
      changedAt: Date | undefined;
    };

export type SubjectAltNames = { dnsNames: readonly string[]; ipAddresses: readonly string[] };

/** The four names a Service is reached by from the API server. */
export function buildServiceDnsNames(serviceName: string, namespace: string): string[] {
  return [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`];
}

export function inspectCertificates(
  material: Partial<CertificateMaterial> | undefined,
  sans: SubjectAltNames,
  changedAt: Date | undefined,
): CertificateFacts {
  if (material === undefined) return { kind: 'absent' };
  if (!material.caBundlePem || !material.caKeyPem) return { kind: 'unusable', problem: 'missing' };
  const bundle = parseCaBundle(material.caBundlePem);
  const caKey = parsePrivateKey(material.caKeyPem);
  if (bundle.length === 0 || caKey === undefined) return { kind: 'unusable', problem: 'unreadable' };
  const signer = bundle.find((ca) => ca.cert.checkPrivateKey(caKey));
  if (signer === undefined) return { kind: 'unusable', problem: 'key-matches-no-ca' };
  return {
    kind: 'present',
    signer: signer.facts,
    bundle: bundle.map((ca) => ca.facts),
    serving: inspectServing(material, bundle, sans),
    changedAt,
  };
}

type ParsedCa = { cert: X509Certificate; facts: CaFacts };

function parseCaBundle(bundlePem: string): ParsedCa[] {
  const parsed: ParsedCa[] = [];
  for (const pem of splitPemBundle(bundlePem)) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (!cert.ca || parsed.some((ca) => ca.facts.fingerprint === cert.fingerprint256)) continue;
    parsed.push({ cert, facts: { pem, fingerprint: cert.fingerprint256, notBefore: cert.validFromDate, notAfter: cert.validToDate } });
  }
  return parsed;
}

function inspectServing(material: Partial<CertificateMaterial>, bundle: readonly ParsedCa[], sans: SubjectAltNames): ServingFacts {
  if (!material.certPem || !material.keyPem) return { kind: 'unusable', problem: 'missing' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.certPem);
  } catch {
    return { kind: 'unusable', problem: 'unreadable' };
  }
  const key = parsePrivateKey(material.keyPem);
  if (key === undefined) return { kind: 'unusable', problem: 'unreadable' };
  if (!cert.checkPrivateKey(key)) return { kind: 'unusable', problem: 'key-mismatch' };
  const issuer = bundle.find((ca) => cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey));
  if (issuer === undefined) return { kind: 'unusable', problem: 'not-signed-by-bundle' };
  // subject 'never': only SANs count, as in the Go verifier the API server uses.
  if (sans.dnsNames.some((name) => cert.checkHost(name, { subject: 'never' }) === undefined))
    return { kind: 'unusable', problem: 'missing-dns-name' };
  if (sans.ipAddresses.some((ip) => cert.checkIP(ip) === undefined)) return { kind: 'unusable', problem: 'missing-ip-address' };
  return {
    kind: 'usable',
    fingerprint: cert.fingerprint256,
    issuerFingerprint: issuer.facts.fingerprint,
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
  };
}

function parsePrivateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}
