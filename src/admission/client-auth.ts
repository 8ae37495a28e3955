import type { TLSSocket } from 'node:tls';
import type { HttpError } from './http-errors.ts';

/**
 * Optional authentication of the caller by client certificate: the API server presents the certificate its
 * AdmissionConfiguration kubeconfig names for this webhook. The TLS layer asks every client for a certificate and
 * verifies it against `caPem`, but lets the handshake finish without one (kubelet probes present none), so that
 * /healthz, /readyz and /metrics stay open; the admission routes then refuse an unverified caller here.
 */
export interface ClientAuth {
  /** PEM bundle of the CAs that may sign the caller's certificate. */
  caPem: string;
  /** Accepted subject common names or DNS SANs; empty: any certificate `caPem` signed. */
  allowedNames: readonly string[];
}

/** undefined when the caller may proceed; the refusal otherwise (401 no or unverified certificate, 403 not allowed). */
export function checkClientCertificate(socket: TLSSocket, auth: ClientAuth): HttpError | undefined {
  const peer = socket.getPeerX509Certificate();
  if (!peer || !socket.authorized) {
    return { status: 401, code: 'CLIENT_UNAUTHORIZED', message: 'a client certificate signed by the configured client CA is required' };
  }
  if (auth.allowedNames.length === 0) return undefined;
  const names = [...commonNames(peer.subject), ...dnsNames(peer.subjectAltName)];
  if (names.some((name) => auth.allowedNames.includes(name))) return undefined;
  return { status: 403, code: 'CLIENT_UNAUTHORIZED', message: 'this client certificate is not one of the allowed callers' };
}

function commonNames(subject: string): string[] {
  return subject.split('\n').flatMap((line) => (line.startsWith('CN=') ? [line.slice(3)] : []));
}

function dnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '').split(', ').flatMap((entry) => (entry.startsWith('DNS:') ? [entry.slice(4)] : []));
}
