import { X509Certificate } from 'node:crypto';

/**
 * CA bundles as the API server reads them: concatenated PEM certificates (a webhook's `caBundle` is that
 * PEM, base64-encoded once more). Everything here is pure: parse, compare, merge.
 */

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each PEM certificate block of a bundle, normalised to end with one newline; anything else is ignored. */
export function splitPemBundle(bundlePem: string): string[] {
  return [...bundlePem.matchAll(pemCertificate)].map((match) => `${match[0].trim()}\n`);
}

/** SHA-256 fingerprint of a PEM certificate, or undefined when it does not parse. */
export function fingerprintCertificate(certPem: string): string | undefined {
  try {
    return new X509Certificate(certPem).fingerprint256;
  } catch {
    return undefined;
  }
}

/** Fingerprints of the certificates of a bundle that parse, in bundle order, without duplicates. */
export function listBundleFingerprints(bundlePem: string): string[] {
  const fingerprints: string[] = [];
  for (const pem of splitPemBundle(bundlePem)) {
    const fingerprint = fingerprintCertificate(pem);
    if (fingerprint !== undefined && !fingerprints.includes(fingerprint)) fingerprints.push(fingerprint);
  }
  return fingerprints;
}

/** True when both bundles hold the same certificates, whatever their order, duplicates or whitespace. */
export function isSameBundle(left: string, right: string): boolean {
  const a = listBundleFingerprints(left);
  const b = new Set(listBundleFingerprints(right));
  return a.length === b.size && a.every((fingerprint) => b.has(fingerprint));
}

export type MergeBundleOptions = {
  /** Certificates that have expired by then are left out: they can verify nothing. */
  now?: Date;
  /** Certificates with these fingerprints are left out. */
  drop?: readonly string[];
};

/**
 * One bundle from several: certificates in order of first appearance, duplicates (same fingerprint) once,
 * unparseable blocks, expired certificates and dropped fingerprints left out.
 */
export function mergeCaBundles(bundles: readonly string[], options: MergeBundleOptions = {}): string {
  const seen = new Set<string>(options.drop ?? []);
  const kept: string[] = [];
  for (const pem of bundles.flatMap(splitPemBundle)) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    if (options.now !== undefined && cert.validToDate.getTime() <= options.now.getTime()) continue;
    kept.push(pem);
  }
  return kept.join('');
}

/** The form a webhook configuration's `clientConfig.caBundle` takes. */
export function encodeCaBundle(bundlePem: string): string {
  return Buffer.from(bundlePem, 'utf8').toString('base64');
}

/** A `caBundle` value back to PEM; garbage decodes to a string without certificates. */
export function decodeCaBundle(caBundle: string | undefined): string {
  return caBundle === undefined ? '' : Buffer.from(caBundle, 'base64').toString('utf8');
}
