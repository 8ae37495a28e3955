import type { SecureContextOptions } from 'node:tls';

/**
 * The TLS the admission server speaks. TLS 1.3 is negotiated whenever the client offers it (the API server's Go
 * client does); TLS 1.2 only with ECDHE key exchange and AEAD ciphers, so every session is forward-secret: no
 * static-RSA key exchange, no CBC, no DHE (slow, and Go's client never offers it). The 1.2 list is Go's
 * crypto/tls default for RSA and ECDSA certificates, so any API server since 1.19 finds a match.
 *
 * setSecureContext (certificate rotation) replaces the whole context: everything here must be passed again.
 */
export const TLS13_CIPHER_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

export const TLS12_CIPHER_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

export const serverTlsSettings: SecureContextOptions & { minVersion: 'TLSv1.2'; honorCipherOrder: boolean } = {
  minVersion: 'TLSv1.2',
  // OpenSSL reads TLS 1.3 suite names in the same list (Node splits them into ciphersuites).
  ciphers: [...TLS13_CIPHER_SUITES, ...TLS12_CIPHER_SUITES].join(':'),
  honorCipherOrder: true,
  ecdhCurve: 'X25519:P-256:P-384',
};
