import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runPolicyMigrate } from '../../../src/cli/policy-migrate-command.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const CONFIGMAP = '/api/v1/namespaces/sandbox-admission/configmaps/sandbox-admission-policy';
const OPTIONS = { webhookNamespace: 'sandbox-admission', policyConfigmap: 'sandbox-admission-policy', name: 'default' };

async function migrate(client: ReturnType<typeof createFakeKubeApiClient>) {
  let out = '';
  let err = '';
  const code = await runPolicyMigrate(
    OPTIONS,
    (t) => (out += t),
    (t) => (err += t),
    client,
  );
  return { code, out, err };
}

describe('sandbox-admission policy migrate from the ConfigMap', () => {
  test('reads the ConfigMap with one GET through the client and prints the SandboxPolicy named --name', async () => {
    const text = readFileSync(fileURLToPath(new URL('../../fixtures/policies/valid/profiles.yaml', import.meta.url)), 'utf8');
    const client = createFakeKubeApiClient(() => ({ data: { 'policy.yaml': text } }));
    const { code, out, err } = await migrate(client);
    assert.equal(code, 0, err);
    assert.match(out, /name: default/);
    assert.deepEqual(client.requests, [{ method: 'GET', path: CONFIGMAP }]);
  });

  test('a ConfigMap without the key holds no policy; an API error is one line', async () => {
    assert.match((await migrate(createFakeKubeApiClient(() => ({ data: {} })))).err, /holds no policy/);
    const client = createFakeKubeApiClient();
    client.failNext(
      CONFIGMAP,
      kubeApiError(404, 'configmaps "sandbox-admission-policy" not found', 'NotFound', { method: 'GET', path: CONFIGMAP }),
    );
    const missing = await migrate(client);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.err,
      `sandbox-admission: cannot read the policy from ConfigMap sandbox-admission/sandbox-admission-policy (key policy.yaml): GET ${CONFIGMAP}: 404 configmaps "sandbox-admission-policy" not found\n`,
    );
  });
});
