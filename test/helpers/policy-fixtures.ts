import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../fixtures/policies/', import.meta.url));

export interface PolicyFixture {
  name: string;
  valid: boolean;
  text: string;
  object: Record<string, unknown>;
  /** Invalid ones: the field path the refusal must name (`# refused at:`). */
  refusedAt?: string;
  /** Where the API server reports it when that is not refusedAt (`# api refuses at:`): a map key at its map. */
  apiRefusesAt?: string;
  /** Invalid ones the CRD lets through, and why (`# runtime only:`): they take the Accepted=False status path. */
  runtimeOnly?: string;
}

/** Every policy document of test/fixtures/policies: valid/ ones both checks accept, invalid/ ones with their path. */
export function policyFixtures(): PolicyFixture[] {
  return (['valid', 'invalid'] as const).flatMap((kind) =>
    readdirSync(join(DIR, kind))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((file) => {
        const text = readFileSync(join(DIR, kind, file), 'utf8');
        const header = (key: string) => new RegExp(`^# ${key}: (.+)$`, 'm').exec(text)?.[1];
        const refusedAt = header('refused at');
        const runtimeOnly = header('runtime only');
        const apiRefusesAt = header('api refuses at');
        return {
          name: `${kind}/${file}`,
          valid: kind === 'valid',
          text,
          object: parse(text) as Record<string, unknown>,
          ...(refusedAt ? { refusedAt } : {}),
          ...(runtimeOnly ? { runtimeOnly } : {}),
          ...(apiRefusesAt ? { apiRefusesAt } : {}),
        };
      }),
  );
}
