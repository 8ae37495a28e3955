import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';

export type HttpsReply = {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** SHA-256 fingerprint of the certificate the server presented on this connection. */
  peerFingerprint: string;
};

export type HttpsRequest = {
  port: number;
  ca: string;
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Sent as SNI and checked against the certificate; without it the client checks 127.0.0.1 and sends no SNI. */
  servername?: string;
  /** Write the body in pieces without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
};

/**
 * One request on a fresh, CA-verifying TLS connection (no agent): each call is a new handshake, which the
 * certificate-rotation tests rely on.
 */
export function sendHttps(options: HttpsRequest): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const headers: Record<string, string | number> = { ...options.headers };
    if (body !== undefined && !options.chunked) headers['content-length'] = body.length;
    let answered = false;
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        ca: options.ca,
        servername: options.servername,
        agent: false,
        rejectUnauthorized: true,
      },
      (res) => {
        answered = true;
        const socket = res.socket as TLSSocket;
        const peerFingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), peerFingerprint }),
        );
      },
    );
    // A server that refuses an oversized body may reset the connection while we still write: that is
    // fine once its answer is in.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body !== undefined && options.chunked) {
      const piece = 1024 * 1024;
      for (let offset = 0; offset < body.length; offset += piece) req.write(body.subarray(offset, offset + piece));
    } else if (body !== undefined) {
      req.write(body);
    }
    req.end();
  });
}
