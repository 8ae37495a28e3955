import { X509Certificate } from 'node:crypto';

/**
 * notAfter of the first certificate of a PEM, for the expiry gauge. Node's own X.509 parser: the serving path
 * never loads node-forge (certificates.ts), which only issuing certificates (--dev, self-managed) needs.
 */
export function certificateNotAfter(certPem: string): Date {
  return new X509Certificate(certPem).validToDate;
}
