// The CRD's schema against the runtime check: every policy fixture goes to the real API server with the generated
// CRD installed (dryRun=All, strict field validation, as `kubectl apply` sends) and to parsePolicy; they must agree,
// except for the documents marked `# runtime only:`, which the API server stores and the webhook refuses (they get
// Accepted=False, see sandbox-policy-source.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parsePolicy } from '../../src/policy/parse.ts';
import { policyFixtures } from '../helpers/policy-fixtures.ts';
import { describeApiError } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { startCluster, type Cluster } from './harness/cluster.ts';
import { asSandboxPolicy, installSandboxPolicyCrd, sandboxPolicies } from './harness/sandbox-policy.ts';

const bins = resolveBinaries();

describe('the SandboxPolicy CRD and the runtime check agree', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      await installSandboxPolicyCrd(cluster, bins.binaries!.kubectl);
    },
    { timeout: 180_000 },
  );
  after(async () => {
    await cluster?.stop();
  });

  it('the shipped example policy and every valid fixture are accepted by both', async () => {
    const policies = sandboxPolicies(cluster.kubeConfig);
    for (const fixture of policyFixtures().filter((f) => f.valid)) {
      assert.ok(parsePolicy(fixture.text, { webhookNamespace: 'sandbox-admission' }).ok, fixture.name);
      await policies.create(asSandboxPolicy(fixture.object, 'default'), { dryRun: true }).catch((error: unknown) => {
        assert.fail(`${fixture.name}: the API server refused it: ${describeApiError(error)}`);
      });
    }
  });

  it('every invalid fixture is refused by both at its field path, but for the listed runtime-only ones', async () => {
    const policies = sandboxPolicies(cluster.kubeConfig);
    const runtimeOnly: string[] = [];
    for (const fixture of policyFixtures().filter((f) => !f.valid)) {
      const runtime = parsePolicy(fixture.text, { webhookNamespace: 'sandbox-admission' });
      assert.ok(!runtime.ok && runtime.error.some((e) => e.path === fixture.refusedAt), `${fixture.name}: runtime check`);
      let apiMessage: string | undefined;
      try {
        await policies.create(asSandboxPolicy(fixture.object, 'default'), { dryRun: true });
      } catch (error) {
        apiMessage = describeApiError(error);
      }
      if (fixture.runtimeOnly) {
        assert.equal(apiMessage, undefined, `${fixture.name} is marked runtime only, but the API server refused it: ${apiMessage}`);
        runtimeOnly.push(fixture.name);
        continue;
      }
      assert.ok(apiMessage !== undefined, `${fixture.name}: the API server accepted what the runtime refuses`);
      const at = fixture.apiRefusesAt ?? fixture.refusedAt!;
      // The API server spells a map key as an index (spec.profiles[p].unsupported); the runtime as a field.
      const spelled = apiMessage.replace(/\[([A-Za-z_][A-Za-z0-9_-]*)\]/g, '.$1');
      assert.ok(
        spelled.includes(`${at}: `) || spelled.includes(`${at}[`) || spelled.includes(`unknown field "${at}"`),
        `${fixture.name}: the API server's message does not name ${at}: ${apiMessage}`,
      );
    }
    // The exact list of documents only the runtime refuses (README, "Policy as a SandboxPolicy object").
    assert.deepEqual(runtimeOnly, ['invalid/bad-label-key.yaml', 'invalid/duplicate-runtime-class.yaml']);
  });
});
