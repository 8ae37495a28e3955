// A second mutating webhook for the reinvocation test. Its configuration sorts after sandbox-admission's, so
// the API server calls it second; it strips every toleration (ours included) and marks the pod. Because it
// changed the pod, the API server must call sandbox-admission again (reinvocationPolicy: IfNeeded).
import * as k8s from '@kubernetes/client-node';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import type { Cluster } from './cluster.ts';

export interface TestMutator {
  stop(): Promise<void>;
}

export const REINVOKE_LABEL = 'e2e.sandbox-admission.io/reinvoke';

export async function startTestMutator(cluster: Cluster): Promise<TestMutator> {
  const now = new Date();
  const ca = createCertificateAuthority({ commonName: 'e2e-test-mutator-ca', validityDays: 1, now });
  const serving = createServingCertificate(ca, {
    commonName: 'e2e-test-mutator',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    now,
  });
  const server: Server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const review = JSON.parse(body) as { request: { uid: string; object: k8s.V1Pod } };
      const pod = review.request.object;
      const patch: unknown[] = [];
      if (pod.spec?.tolerations) patch.push({ op: 'remove', path: '/spec/tolerations' });
      if (pod.metadata?.labels) patch.push({ op: 'add', path: '/metadata/labels/e2e.sandbox-admission.io~1mutated', value: 'true' });
      else patch.push({ op: 'add', path: '/metadata/labels', value: { 'e2e.sandbox-admission.io/mutated': 'true' } });
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: review.request.uid,
            allowed: true,
            patchType: 'JSONPatch',
            patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: 'zz-e2e-test-mutator' },
      webhooks: [
        {
          name: 'strip-tolerations.e2e.sandbox-admission.io',
          admissionReviewVersions: ['v1'],
          clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { [REINVOKE_LABEL]: 'true' } },
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'Never',
          timeoutSeconds: 5,
        },
      ],
    },
  });
  return {
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
