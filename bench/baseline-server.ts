import './parent-guard.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fastify } from 'fastify';

/**
 * The floor the webhook is compared with: fastify over HTTPS on the same certificate, the same body limit and
 * keep-alive timeout, answering every POST with `allowed: true`, nothing logged or counted. Two variants:
 *   - default (`baseline` in the summary): the body goes through fastify's own JSON parser, as the webhook's does
 *     (secure-json-parse, prototype-poisoning scan included), and the answer echoes the request's uid, so it pays
 *     what any real webhook on this stack must pay;
 *   - --unparsed (`baseline, body unparsed`): the body is read off the connection as a Buffer and never parsed;
 *     the answer is fixed. The floor of the HTTPS stack alone, the only baseline before issue 15.
 *
 *   node bench/baseline-server.ts --tls-cert-file tls.crt --tls-key-file tls.key [--unparsed] [--host 127.0.0.1] [--port 0]
 *
 * Prints one JSON line `{"msg":"baseline listening","port":N}` when ready; SIGTERM/SIGINT close it.
 */

const { values } = parseArgs({
  options: {
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    unparsed: { type: 'boolean', default: false },
  },
});
const certFile = values['tls-cert-file'];
const keyFile = values['tls-key-file'];
if (!certFile || !keyFile) {
  process.stderr.write('baseline-server: --tls-cert-file and --tls-key-file are required\n');
  process.exit(2);
}

// The uid of examples/untrusted-pod-review.json; the unparsed variant cannot read the request's.
const fixedAnswer = JSON.stringify({
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
if (values.unparsed) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}
for (const url of ['/mutate', '/validate']) {
  app.post(url, (request, reply) => {
    if (values.unparsed) {
      reply.type('application/json').send(fixedAnswer);
      return;
    }
    const uid = (request.body as { request?: { uid?: unknown } } | null)?.request?.uid;
    reply.send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });
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
