import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { buildPolicyValidatorSource, POLICY_VALIDATOR_OPTIONS } from '../../../src/policy/policy-validator-source.ts';
import { validate } from '../../../src/policy/policy-validator.generated.ts';
import { policySchema } from '../../../src/policy/schema.ts';
import { policyFixtures } from '../../helpers/policy-fixtures.ts';

describe('the precompiled policy validator', () => {
  test('src/policy/policy-validator.generated.ts is what the generator writes from schema.ts (regenerate: node src/policy/policy-validator-source.ts > src/policy/policy-validator.generated.ts)', () => {
    const committed = readFileSync(new URL('../../../src/policy/policy-validator.generated.ts', import.meta.url), 'utf8');
    assert.equal(committed, buildPolicyValidatorSource());
  });

  test('judges every fixture exactly as ajv compiling the schema at run time does, errors included', () => {
    const compiled = new Ajv2020({ ...POLICY_VALIDATOR_OPTIONS }).compile(policySchema);
    const fixtures = policyFixtures();
    assert.ok(fixtures.length > 10, 'fixtures found');
    for (const { name, object: document } of fixtures) {
      const expected = compiled(document);
      const actual = validate(document);
      assert.equal(actual, expected, name);
      assert.deepEqual(
        (validate as { errors?: unknown[] }).errors?.map((e) => ({ ...(e as object), schema: undefined, parentSchema: undefined })) ?? null,
        compiled.errors?.map((e) => ({ ...e, schema: undefined, parentSchema: undefined })) ?? null,
        name,
      );
    }
  });
});
