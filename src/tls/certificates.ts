import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A certificate and its private key, both PEM; the key is PKCS#8 ("PRIVATE KEY"). */
export type CertificateBundle = { certPem: string; keyPem: string; notAfter: Date };

export type CertificateAuthorityOptions = { commonName: string; validityDays: number; now: Date };

export type ServingCertificateOptions = {
  commonName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  validityDays: number;
  now: Date;
};

export type CertificateDescription = {
  commonName: string | undefined;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
};

// Nodes and the API server rarely agree on the second; a certificate that is "not yet valid" for a
// few minutes after rotation would fail every admission call, so validity starts a little earlier.
const clockSkewMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;
const rsaBits = 2048;
// RFC 5280 4.1.2.5: serials are positive and at most 20 octets; 16 random octets is the usual choice.
const serialOctets = 16;
// X.520 ub-common-name; longer names are rejected by strict parsers.
const maxCommonNameLength = 64;
// forge encodes subject attributes as PrintableString; Go's x509, which the API server verifies webhook
// certificates with, refuses the whole certificate when one holds anything else (such as '@' or '_').
const printableString = /^[A-Za-z0-9 '()+,\-./:=?]+$/;
const subjectAltNameDns = 2;
const subjectAltNameIp = 7;

export function createCertificateAuthority(options: CertificateAuthorityOptions): CertificateBundle {
  checkCommonName(options.commonName);
  checkValidityDays(options.validityDays);
  const keys = generateKeyPair();
  const cert = forge.pki.createCertificate();
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.publicKey = keys.publicKey;
  cert.serialNumber = createSerialNumber();
  setValidity(cert, options.now, options.validityDays);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathLen 0: this CA only ever signs the webhook's own serving certificate.
    { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    { name: 'subjectKeyIdentifier' },
    // `true` means "this certificate's own key", which is right for a self-signed root.
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return toBundle(cert, keys.privateKey);
}

export function createServingCertificate(
  ca: Pick<CertificateBundle, 'certPem' | 'keyPem'>,
  options: ServingCertificateOptions,
): CertificateBundle {
  checkCommonName(options.commonName);
  checkValidityDays(options.validityDays);
  if (options.dnsNames.length + options.ipAddresses.length === 0) {
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  }
  for (const ip of options.ipAddresses) {
    // forge parses IPv6 leniently and would encode garbage; refuse anything that is not an address.
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
  }
  for (const name of options.dnsNames) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(name)) throw new Error(`not a DNS name: ${name}`);
  }
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = generateKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = createSerialNumber();
  setValidity(cert, options.now, options.validityDays);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', critical: true, cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...options.dnsNames.map((value) => ({ type: subjectAltNameDns, value })),
        ...options.ipAddresses.map((ip) => ({ type: subjectAltNameIp, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: readSubjectKeyIdentifier(caCert) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return toBundle(cert, keys.privateKey);
}

/** The parts of a certificate that decide whether it can still be served. */
export function describeCertificate(certPem: string): CertificateDescription {
  const cert = forge.pki.certificateFromPem(certPem);
  const san = cert.getExtension('subjectAltName') as { altNames?: Array<{ type: number; value?: string; ip?: string }> } | null;
  const altNames = san?.altNames ?? [];
  const commonName = cert.subject.getField('CN') as { value?: unknown } | null;
  return {
    commonName: typeof commonName?.value === 'string' ? commonName.value : undefined,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    dnsNames: altNames.filter((n) => n.type === subjectAltNameDns && n.value !== undefined).map((n) => n.value as string),
    ipAddresses: altNames.filter((n) => n.type === subjectAltNameIp && n.ip !== undefined).map((n) => n.ip as string),
  };
}

function generateKeyPair(): forge.pki.rsa.KeyPair {
  // forge hands this to Node's native generateKeyPairSync (milliseconds), not its pure-JS prime search.
  return forge.pki.rsa.generateKeyPair({ bits: rsaBits, e: 0x10001 });
}

function createSerialNumber(): string {
  const bytes = randomBytes(serialOctets);
  // Top bit clear keeps the DER INTEGER positive; bit 6 set keeps it minimal (no leading zero octet).
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function checkValidityDays(validityDays: number): void {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new Error(`validityDays must be a positive number, got ${validityDays}`);
  }
}

function setValidity(cert: forge.pki.Certificate, now: Date, validityDays: number): void {
  // X.509 times have whole seconds; truncate so the notAfter we return equals the encoded one.
  const start = truncateToSecond(now.getTime() - clockSkewMs);
  cert.validity.notBefore = new Date(start);
  cert.validity.notAfter = new Date(truncateToSecond(now.getTime() + validityDays * dayMs));
}

function truncateToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function checkCommonName(commonName: string): void {
  if (commonName.length === 0 || commonName.length > maxCommonNameLength) {
    throw new Error(`commonName must be 1-${maxCommonNameLength} characters, got ${commonName.length}`);
  }
  if (!printableString.test(commonName)) {
    throw new Error(`commonName may only hold PrintableString characters (letters, digits, space and '()+,-./:=?), got "${commonName}"`);
  }
}

function readSubjectKeyIdentifier(cert: forge.pki.Certificate): string {
  const ext = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  // Match what the CA itself declares; only derive one when a foreign CA carries none.
  if (ext?.subjectKeyIdentifier) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return cert.generateSubjectKeyIdentifier().getBytes();
}

function toBundle(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): CertificateBundle {
  const keyInfo = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key));
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyInfoToPem(keyInfo),
    notAfter: cert.validity.notAfter,
  };
}
