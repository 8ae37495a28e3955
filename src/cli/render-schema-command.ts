import { policySchema } from '../policy/schema.ts';
import { policyTestSchema } from './policy-test.ts';

/** The JSON Schema the runtime validates with, as editors read it (yaml-language-server, VS Code, IntelliJ). */
export function renderSchema(kind: 'policy' | 'test'): string {
  return `${JSON.stringify(kind === 'policy' ? policySchema : policyTestSchema, null, 2)}\n`;
}

/** Exit code 0: the schema is built in and cannot fail. */
export function runRenderSchema(options: { kind: 'policy' | 'test' }, write: (text: string) => void): number {
  write(renderSchema(options.kind));
  return 0;
}
