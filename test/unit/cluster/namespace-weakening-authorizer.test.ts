import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createNamespaceWeakeningAuthorizer } from '../../../src/cluster/namespace-weakening-authorizer.ts';
import { WEAKEN_NAMESPACE_PERMISSION } from '../../../src/decision/namespace-guard.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

describe('createNamespaceWeakeningAuthorizer', () => {
  test('one SubjectAccessReview with the full identity; the answer is status.allowed', async () => {
    let allowed: boolean | undefined = true;
    const client = createFakeKubeApiClient(() => ({ status: allowed === undefined ? {} : { allowed } }));
    const warnings: string[] = [];
    const authorize = createNamespaceWeakeningAuthorizer(client, { warn: (_d, m) => warnings.push(m) });
    const requester = { username: 'alice', uid: 'u-1', groups: ['dev'], extra: { scopes: ['a', 'b'] } };
    assert.equal(await authorize(requester, 'apps'), true);
    allowed = false;
    assert.equal(await authorize(requester, 'apps'), false);
    allowed = undefined;
    assert.equal(await authorize({ username: 'bob' }, 'apps'), false);
    assert.deepEqual(client.requests[0], {
      method: 'POST',
      path: PATH,
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: 'alice',
          uid: 'u-1',
          groups: ['dev'],
          extra: { scopes: ['a', 'b'] },
          resourceAttributes: { ...WEAKEN_NAMESPACE_PERMISSION, namespace: 'apps', name: 'apps' },
        },
      },
    });
    assert.deepEqual((client.requests[2]!.body as { spec: object }).spec, {
      user: 'bob',
      resourceAttributes: { ...WEAKEN_NAMESPACE_PERMISSION, namespace: 'apps', name: 'apps' },
    });
    assert.deepEqual(warnings, []);
  });

  test('an API error is logged and thrown, so the caller refuses the change', async () => {
    const client = createFakeKubeApiClient();
    client.failNext(PATH, kubeApiError(403, 'cannot create subjectaccessreviews'));
    const warnings: string[] = [];
    const authorize = createNamespaceWeakeningAuthorizer(client, { warn: (_d, m) => warnings.push(m) });
    await assert.rejects(authorize({ username: 'alice' }, 'apps'), { code: 403 });
    assert.deepEqual(warnings, ['SubjectAccessReview for a namespace label change failed; the change is refused']);
  });
});
