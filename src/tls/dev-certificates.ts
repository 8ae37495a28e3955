import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, createServingCertificate } from './certificates.ts';

/**
 * Self-signed certificates for running the webhook outside a cluster (or in a dev cluster without
 * cert-manager). Production certificates come from a Secret; this module is for `npm start`.
 */

export type DevCertificateLog = { info(data: object, message: string): void };

export type DevCertificateOptions = {
  dir: string;
  serviceName: string;
  namespace: string;
  now: Date;
  log: DevCertificateLog;
};

export type DevCertificatePaths = { caCert: string; caKey: string; cert: string; key: string };

export type DevCertificates = {
  paths: DevCertificatePaths;
  ca: { certPem: string; keyPem: string };
  serving: { certPem: string; keyPem: string; notAfter: Date };
  /** What happened on disk: nothing, a new serving certificate under the old CA, or everything new. */
  action: 'reused' | 'reissued-serving' | 'created';
};

type PemPair = { certPem: string; keyPem: string };

const caValidityDays = 3650;
const servingValidityDays = 365;
// Renew a day early: a certificate that lapses in the middle of a dev session fails every call.
const renewBeforeMs = 24 * 60 * 60 * 1000;

/** Every name the API server or a local client may use to reach the webhook. */
export function buildDevSubjectAltNames(serviceName: string, namespace: string): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: [
      'localhost',
      serviceName,
      `${serviceName}.${namespace}`,
      `${serviceName}.${namespace}.svc`,
      `${serviceName}.${namespace}.svc.cluster.local`,
    ],
    ipAddresses: ['127.0.0.1', '::1'],
  };
}

export async function ensureDevCertificates(options: DevCertificateOptions): Promise<DevCertificates> {
  const { dir, serviceName, namespace, now, log } = options;
  const paths: DevCertificatePaths = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
  };
  const sans = buildDevSubjectAltNames(serviceName, namespace);
  const existingCa = await readPemPair(paths.caCert, paths.caKey);
  const existingServing = await readPemPair(paths.cert, paths.key);

  const caProblem = existingCa ? findCaProblem(existingCa, now) : 'missing';
  if (existingCa && caProblem === undefined) {
    const servingProblem = existingServing ? findServingProblem(existingServing, existingCa, sans, now) : 'missing';
    if (existingServing && servingProblem === undefined) {
      const notAfter = new X509Certificate(existingServing.certPem).validToDate;
      log.info({ dir, notAfter }, 'reusing dev certificates');
      return { paths, ca: existingCa, serving: { ...existingServing, notAfter }, action: 'reused' };
    }
    // Keep the CA so a caBundle already pasted into a dev cluster's webhook configuration stays valid.
    const serving = issueServing(existingCa, serviceName, namespace, sans, now);
    await writePemPair(dir, paths.cert, paths.key, serving);
    log.info({ dir, reason: servingProblem, notAfter: serving.notAfter }, 'reissued dev serving certificate');
    return { paths, ca: existingCa, serving, action: 'reissued-serving' };
  }

  const ca = createCertificateAuthority({ commonName: `${serviceName}-dev-ca`.slice(0, 64), validityDays: caValidityDays, now });
  const serving = issueServing(ca, serviceName, namespace, sans, now);
  // The CA goes first: a serving cert on disk without its CA would be useless after a crash.
  await writePemPair(dir, paths.caCert, paths.caKey, ca);
  await writePemPair(dir, paths.cert, paths.key, serving);
  log.info({ dir, reason: caProblem, notAfter: serving.notAfter }, 'created dev certificates');
  return { paths, ca: { certPem: ca.certPem, keyPem: ca.keyPem }, serving, action: 'created' };
}

function issueServing(
  ca: PemPair,
  serviceName: string,
  namespace: string,
  sans: { dnsNames: string[]; ipAddresses: string[] },
  now: Date,
): PemPair & { notAfter: Date } {
  const svcName = `${serviceName}.${namespace}.svc`;
  // Verifiers use the SANs; the CN is only for humans, and must fit X.520's 64 characters.
  const commonName = svcName.length <= 64 ? svcName : serviceName.slice(0, 64);
  const { certPem, keyPem, notAfter } = createServingCertificate(ca, { commonName, ...sans, validityDays: servingValidityDays, now });
  return { certPem, keyPem, notAfter };
}

async function readPemPair(certPath: string, keyPath: string): Promise<PemPair | undefined> {
  try {
    return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Why this CA cannot be kept, or undefined when it can. */
function findCaProblem(pair: PemPair, now: Date): string | undefined {
  try {
    const cert = new X509Certificate(pair.certPem);
    if (!cert.ca) return 'not-a-ca';
    return findValidityProblem(cert, now) ?? (cert.checkPrivateKey(createPrivateKey(pair.keyPem)) ? undefined : 'key-mismatch');
  } catch {
    return 'unreadable';
  }
}

/** Why this serving certificate cannot be kept, or undefined when it can. */
function findServingProblem(
  pair: PemPair,
  ca: PemPair,
  sans: { dnsNames: string[]; ipAddresses: string[] },
  now: Date,
): string | undefined {
  try {
    const cert = new X509Certificate(pair.certPem);
    const validity = findValidityProblem(cert, now);
    if (validity) return validity;
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem))) return 'key-mismatch';
    if (!cert.verify(new X509Certificate(ca.certPem).publicKey)) return 'not-signed-by-ca';
    // subject 'never': only SANs count, as in Go's verifier the API server uses.
    if (sans.dnsNames.some((name) => cert.checkHost(name, { subject: 'never' }) === undefined)) return 'missing-dns-name';
    if (sans.ipAddresses.some((ip) => cert.checkIP(ip) === undefined)) return 'missing-ip-address';
    return undefined;
  } catch {
    return 'unreadable';
  }
}

function findValidityProblem(cert: X509Certificate, now: Date): string | undefined {
  if (cert.validFromDate.getTime() > now.getTime()) return 'not-yet-valid';
  if (cert.validToDate.getTime() - now.getTime() < renewBeforeMs) return 'expiring';
  return undefined;
}

async function writePemPair(dir: string, certPath: string, keyPath: string, pair: PemPair): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomically(certPath, pair.certPem, 0o644);
  await writeAtomically(keyPath, pair.keyPem, 0o600);
}

// A fresh file then rename: the mode applies even when replacing an old 0644 key, and a crash never
// leaves half a key behind.
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
