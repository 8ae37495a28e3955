import { connect, type TLSSocket } from 'node:tls';

export type RawTlsConnection = { socket: TLSSocket; received(): string; closed: Promise<void> };

/**
 * Raw HTTP/1.1 over one CA-verifying TLS connection (SNI localhost): the tests write requests themselves, so that
 * they can pipeline them or keep the connection open and idle as a client would.
 */
export function openRawTlsConnection(port: number, caPem: string): Promise<RawTlsConnection> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
      resolve({ socket, received: () => text, closed });
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.once('error', reject);
  });
}
