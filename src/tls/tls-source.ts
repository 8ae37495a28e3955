import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';

/** What the HTTPS server presents: PEM private key and certificate (chain) for that key. */
export type TlsMaterial = { key: string; cert: string };

/** Where the server reads its current certificate; a rotator replaces what `current()` returns. */
export type TlsSource = { current(): TlsMaterial };

export type SwappableTlsSource = TlsSource & { set(material: TlsMaterial): void };

export type TlsSwapLog = {
  info(data: object, message: string): void;
  error(data: object, message: string): void;
};

/** A source whose material is replaced by `set` (rotation, or a file/Secret watcher). */
export function createSwappableTlsSource(initial: TlsMaterial): SwappableTlsSource {
  let material = initial;
  return {
    current: () => material,
    set: (next) => {
      material = next;
    },
  };
}

/**
 * Make `server` present whatever `source.current()` holds to every new connection, without a restart.
 *
 * The check runs on each TCP connection, before the TLS handshake starts, so it covers clients that
 * send no SNI (an API server calling the webhook by IP address) as well as those that do; an
 * SNICallback alone would miss the former. The API server keeps connections alive, so this runs
 * rarely, and costs a reference comparison unless the material really changed. Connections that are
 * already open keep the certificate they negotiated.
 *
 * setSecureContext replaces the whole context, so `contextOptions` must repeat any TLS options
 * (minVersion, ciphers...) the server was created with.
 */
export function bindTlsSource(server: TlsServer, source: TlsSource, log: TlsSwapLog, contextOptions: SecureContextOptions = {}): void {
  let served = source.current();
  const refresh = (): void => {
    const next = source.current();
    if (next === served || (next.cert === served.cert && next.key === served.key)) return;
    // Remember the attempt even when it fails, so a bad pair is reported once, not per connection.
    served = next;
    try {
      server.setSecureContext({ ...contextOptions, key: next.key, cert: next.cert });
      const cert = new X509Certificate(next.cert);
      log.info({ notAfter: cert.validToDate, fingerprint: cert.fingerprint256 }, 'serving certificate changed');
    } catch (error) {
      // Keep serving the previous certificate: an outage now is worse than an old certificate.
      log.error({ err: error }, 'new serving certificate rejected; keeping the previous one');
    }
  };
  // prepend: tls.Server wraps the socket in its own 'connection' listener, which must see the new context.
  server.prependListener('connection', refresh);
}
