import './parent-guard.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fastify } from 'fastify';

/**
 * The floor the webhook is compared with: fastify over HTTPS on the same certificate, the same body limit and
 * keep-alive timeout, answering every POST with a fixed `allowed: true` AdmissionReview. The body is read (it has
 * to come off the TLS connection) but never parsed, decoded or decided on, and nothing is logged or counted.
 *
 *   node bench/baseline-server.ts --tls-cert-file tls.crt --tls-key-file tls.key [--host 127.0.0.1] [--port 0]
 *
 * Prints one JSON line `{"msg":"baseline listening","port":N}` when ready; SIGTERM/SIGINT close it.
 */

const { values } = parseArgs({
  options: {
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
const certFile = values['tls-cert-file'];
const keyFile = values['tls-key-file'];
if (!certFile || !keyFile) {
  process.stderr.write('baseline-server: --tls-cert-file and --tls-key-file are required\n');
  process.exit(2);
}

// The uid of examples/untrusted-pod-review.json; a real answer echoes the request's, which needs parsing.
const answer = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
});

const app = fastify({
  https: { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') },
  logger: false,
  bodyLimit: 10 * 1024 * 1024,
  keepAliveTimeout: 120_000,
  forceCloseConnections: 'idle',
});
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
for (const url of ['/mutate', '/validate']) {
  app.post(url, (_request, reply) => {
    reply.type('application/json').send(answer);
  });
}

await app.listen({ host: values.host, port: Number(values.port) });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : Number(values.port);
process.stdout.write(`${JSON.stringify({ msg: 'baseline listening', port })}\n`);

const stop = (): void => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
