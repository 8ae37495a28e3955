// A CA and a serving certificate for a test server on 127.0.0.1 / localhost, from the product's own
// certificate code (src/tls/certificates.ts), as the integration tests' HTTPS servers use them.
import { createCertificateAuthority, createServingCertificate } from '../../src/tls/certificates.ts';

export function createLoopbackServing(
  caName: string,
  caValidityDays = 2,
): {
  ca: ReturnType<typeof createCertificateAuthority>;
  serving: ReturnType<typeof createServingCertificate>;
} {
  const now = new Date();
  const ca = createCertificateAuthority({ commonName: caName, validityDays: caValidityDays, now });
  const serving = createServingCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    now,
  });
  return { ca, serving };
}
