import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClusterObjectEventRecorder, createPolicyEventRecorder } from '../../../src/cluster/policy-events.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const AT = new Date('2026-12-01T23:30:00.250Z');

describe('policy events', () => {
  test('a refused ConfigMap policy is one Warning Event POSTed in its namespace, timestamps as RFC 3339 strings', async () => {
    const client = createFakeKubeApiClient((request) => request.body);
    const record = createPolicyEventRecorder(
      client,
      { namespace: 'sandbox-admission', configMapName: 'sandbox-admission-policy', reportingInstance: 'pod-a' },
      () => AT,
    );
    await record([{ code: 'POLICY_SCHEMA', message: 'spec.rules[0].action: must be one of ...', path: 'spec.rules[0].action' }]);
    assert.equal(client.requests.length, 1);
    const { method, path, body } = client.requests[0]!;
    assert.equal(method, 'POST');
    assert.equal(path, '/api/v1/namespaces/sandbox-admission/events');
    assert.deepEqual(
      { ...(body as object), message: undefined },
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: 'sandbox-admission-policy.', namespace: 'sandbox-admission' },
        involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'sandbox-admission-policy', namespace: 'sandbox-admission' },
        type: 'Warning',
        reason: 'PolicyRejected',
        message: undefined,
        source: { component: 'sandbox-admission' },
        reportingComponent: 'sandbox-admission',
        reportingInstance: 'pod-a',
        firstTimestamp: '2026-12-01T23:30:00.250Z',
        lastTimestamp: '2026-12-01T23:30:00.250Z',
        count: 1,
      },
    );
    assert.match((body as { message: string }).message, /^policy refused, the last good policy stays in force: .*POLICY_SCHEMA/);
  });

  test('an Event about a cluster-scoped SandboxPolicy goes to `default`, its message cut at 1024; errors reach the caller', async () => {
    const client = createFakeKubeApiClient((request) => request.body);
    const record = createClusterObjectEventRecorder(client, 'pod-b', () => AT);
    const involved = { apiVersion: 'sandbox-admission.io/v1alpha1', kind: 'SandboxPolicy', name: 'default', uid: 'u1' };
    await record(involved, { type: 'Normal', reason: 'Accepted', message: 'x'.repeat(2000) });
    const sent = client.requests[0]!;
    assert.equal(sent.path, '/api/v1/namespaces/default/events');
    const body = sent.body as Record<string, unknown>;
    assert.deepEqual(body.metadata, { generateName: 'default.', namespace: 'default' });
    assert.deepEqual(body.involvedObject, involved);
    assert.equal((body.message as string).length, 1024);
    assert.equal(body.firstTimestamp, '2026-12-01T23:30:00.250Z');
    client.failNext('/api/v1/namespaces/default/events', kubeApiError(403, 'cannot create events'));
    await assert.rejects(record(involved, { type: 'Warning', reason: 'Refused', message: 'm' }), { code: 403 });
  });
});
