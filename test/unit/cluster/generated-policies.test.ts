import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAP_LABELS } from '../../../src/admission-policies/mutating-admission-policy.ts';
import { VAP_LABELS } from '../../../src/admission-policies/validating-admission-policy.ts';
import { listGeneratedPolicies } from '../../../src/cluster/generated-policies.ts';
import { formatLabelSelector } from '../../../src/cluster/server-side-apply.ts';
import { POLICY_DIGEST_ANNOTATION } from '../../../src/policy/policy-digest.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const VAPS = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const MAPS = '/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies';
const policy = (name: string, digest?: string) => ({
  metadata: { name, ...(digest ? { annotations: { [POLICY_DIGEST_ANNOTATION]: digest } } : {}) },
});

describe('listGeneratedPolicies', () => {
  test('lists both kinds by their generator labels and reads each digest', async () => {
    const client = createFakeKubeApiClient((request) =>
      request.path === VAPS ? { items: [policy('v1', 'aaa'), policy('v2')] } : { items: [policy('m1', 'bbb')] },
    );
    assert.deepEqual(await listGeneratedPolicies(client)(), [
      { name: 'v1', digest: 'aaa' },
      { name: 'v2', digest: undefined },
      { name: 'm1', digest: 'bbb' },
    ]);
    assert.deepEqual(client.requests, [
      { method: 'GET', path: VAPS, query: { labelSelector: formatLabelSelector(VAP_LABELS) } },
      { method: 'GET', path: MAPS, query: { labelSelector: formatLabelSelector(MAP_LABELS) } },
    ]);
  });

  test('a cluster without the MutatingAdmissionPolicy API (404) has none; other errors are thrown', async () => {
    const client = createFakeKubeApiClient(() => ({ items: [policy('v1', 'aaa')] }));
    const list = listGeneratedPolicies(client);
    client.failNext(MAPS, kubeApiError(404, 'the server could not find the requested resource'));
    assert.deepEqual(await list(), [{ name: 'v1', digest: 'aaa' }]);
    client.failNext(MAPS, kubeApiError(403, 'forbidden'));
    await assert.rejects(list(), { code: 403 });
    client.failNext(VAPS, kubeApiError(500, 'etcd down'));
    await assert.rejects(list(), { code: 500 });
  });
});
