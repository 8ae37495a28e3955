import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { renderCrd } from '../../../src/cli/render-crd-command.ts';
import { parsePolicy } from '../../../src/policy/parse.ts';
import { renderSandboxPolicyCrd, toStructuralSchema } from '../../../src/policy/sandbox-policy-crd.ts';
import { policyFixtures } from '../../helpers/policy-fixtures.ts';

describe('the SandboxPolicy CRD', () => {
  test('manifests/base/crd.yaml is what `render crd` prints (regenerate: npx sandbox-admission render crd > manifests/base/crd.yaml)', () => {
    const committed = readFileSync(new URL('../../../manifests/base/crd.yaml', import.meta.url), 'utf8');
    assert.equal(committed, renderCrd('yaml'));
    assert.deepEqual(parse(committed), renderSandboxPolicyCrd());
  });

  test('the generator refuses a JSON Schema keyword it cannot translate instead of dropping it', () => {
    assert.throws(() => toStructuralSchema({ type: 'string', format: 'email' }, '.spec', new Set()), /keyword "format"/);
  });

  test('the schema is structural: every node has a type, no JSON-Schema-only keyword is left', () => {
    const version = (renderSandboxPolicyCrd().spec as { versions: Array<{ schema: { openAPIV3Schema: unknown } }> }).versions[0]!;
    const walk = (node: Record<string, unknown>, at: string): void => {
      assert.ok(typeof node.type === 'string', `${at} has no type`);
      for (const k of ['const', 'propertyNames', 'uniqueItems', '$schema', 'title']) assert.equal(node[k], undefined, `${at} keeps ${k}`);
      for (const [name, child] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {}))
        walk(child, `${at}.${name}`);
      if (node.items) walk(node.items as Record<string, unknown>, `${at}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Record<string, unknown>, `${at}{}`);
    };
    walk(version.schema.openAPIV3Schema as Record<string, unknown>, '');
  });

  test('every policy fixture: the runtime check accepts the valid ones and refuses the invalid ones at their path', () => {
    const fixtures = policyFixtures();
    assert.ok(fixtures.filter((f) => f.valid).length >= 4 && fixtures.filter((f) => !f.valid).length >= 30);
    for (const fixture of fixtures) {
      const result = parsePolicy(fixture.text, { webhookNamespace: 'sandbox-admission' });
      if (fixture.valid) {
        assert.ok(result.ok, `${fixture.name}: ${JSON.stringify(!result.ok && result.error)}`);
      } else {
        assert.ok(!result.ok, `${fixture.name} was accepted`);
        assert.ok(fixture.refusedAt, `${fixture.name} has no "# refused at:" line`);
        assert.ok(
          result.error.some((e) => e.path === fixture.refusedAt),
          `${fixture.name}: refused at ${result.error.map((e) => e.path).join(', ')}, not ${fixture.refusedAt}`,
        );
      }
    }
  });
});
