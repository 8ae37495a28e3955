// Throwaway PKI for the e2e cluster: a CA, certificates it signs, and bare RSA
// keys. Generated fresh per cluster so nothing secret is ever committed and
// every run starts from a known trust state. Also usable by tests that need a
// serving certificate for the webhook (issue it from the cluster's CA, or from
// a separate CA put in the webhook configuration's caBundle).
import forge from 'node-forge';

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertAuthority extends KeyPairPem {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export interface CertRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'both';
  validDays?: number;
}

// forge delegates to node:crypto's generateKeyPairSync under Node, so this is fast.
function rsaKeyPair(): forge.pki.rsa.KeyPair {
  return forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

let serialCounter = 0;
function newSerial(): string {
  // Positive, unique within the process; leading 01 keeps the DER integer positive.
  serialCounter += 1;
  return `01${Date.now().toString(16)}${serialCounter.toString(16).padStart(4, '0')}`;
}

function baseCert(publicKey: forge.pki.rsa.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerial();
  // Back-date an hour so small clock differences never make a cert "not yet valid".
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + validDays * 24 * 60 * 60 * 1000);
  return cert;
}

export function createCA(commonName = 'sandbox-admission-e2e-ca'): CertAuthority {
  const keys = rsaKeyPair();
  const cert = baseCert(keys.publicKey, 30);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    cert,
    key: keys.privateKey,
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export function issueCert(ca: CertAuthority, req: CertRequest): KeyPairPem {
  const keys = rsaKeyPair();
  const cert = baseCert(keys.publicKey, req.validDays ?? 30);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: req.commonName }];
  // Kubernetes maps each O= to a group (O=system:masters is cluster-admin).
  for (const org of req.organizations ?? []) subject.push({ name: 'organizationName', value: org });
  cert.setSubject(subject);
  cert.setIssuer(ca.cert.subject.attributes);

  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: req.usage !== 'client',
      clientAuth: req.usage !== 'server',
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  // Go's TLS stack ignores the CN for host names: server certs need SANs.
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(ca.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A bare RSA key pair, e.g. for signing and verifying service-account tokens. */
export function createRsaKey(): { privateKeyPem: string; publicKeyPem: string } {
  const keys = rsaKeyPair();
  return {
    privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey),
    publicKeyPem: forge.pki.publicKeyToPem(keys.publicKey),
  };
}
