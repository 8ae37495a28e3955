import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { formatCodedError } from '../errors.ts';
import { collectNamespaceLabels, evaluateManifests } from './evaluate.ts';
import { loadCliPolicy } from './evaluate-command.ts';
import { parseManifests } from './manifest.ts';
import { readManifestInputs } from './manifest-input.ts';
import { checkPolicyTestCases, parsePolicyTest } from './policy-test.ts';

const TEST_FILE = /\.test\.ya?ml$/;

/**
 * `sandbox-admission test <paths...>`: every test file (directories are searched for *.test.yaml), its policy
 * and resources evaluated as `evaluate` does, each expected result checked.
 * Exit codes: 0 every case passed, 1 a case failed, 2 a test file, policy or resource could not be read.
 */
export function runPolicyTests(paths: readonly string[], write: (text: string) => void, warn: (text: string) => void): number {
  const files = findTestFiles(paths, warn);
  if (files === undefined) return 2;
  let passed = 0;
  let failed = 0;
  let broken = false;
  for (const file of files) {
    const outcome = runTestFile(file, write, warn);
    if (outcome === undefined) {
      broken = true;
      continue;
    }
    passed += outcome.passed;
    failed += outcome.failed;
  }
  write(
    `${files.length} test file${files.length === 1 ? '' : 's'}: ${passed} passed, ${failed} failed${broken ? ', some files could not be run' : ''}\n`,
  );
  if (broken) return 2;
  return failed > 0 ? 1 : 0;
}

function runTestFile(
  file: string,
  write: (text: string) => void,
  warn: (text: string) => void,
): { passed: number; failed: number } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    warn(`sandbox-admission: cannot read ${file}: ${(cause as Error).message}\n`);
    return undefined;
  }
  const parsed = parsePolicyTest(text);
  if (!parsed.ok) {
    for (const e of parsed.error) warn(`${file}: ${formatCodedError(e)}\n`);
    return undefined;
  }
  const test = parsed.value;
  const base = dirname(file);
  const policyPath = resolve(base, test.policy);
  const policy = loadCliPolicy(policyPath, test.webhookNamespace ?? 'sandbox-admission', warn);
  if (!policy) return undefined;
  const { inputs, errors } = readManifestInputs(
    test.resources.map((r) => resolve(base, r)),
    { recursive: true },
  );
  for (const e of errors) warn(`${file}: ${e}\n`);
  const documents = inputs.flatMap((input) => parseManifests(input.text, input.file));
  const evaluations = evaluateManifests(documents, {
    policy,
    defaultNamespace: test.defaultNamespace ?? 'default',
    namespaceLabels: collectNamespaceLabels(documents, new Map(Object.entries(test.namespaces ?? {}))),
  });
  const unreadable = evaluations.filter((e) => e.result === 'error');
  for (const e of unreadable) warn(`${file}: ${e.file ?? ''} ${e.object}: ${e.reason}\n`);
  if (errors.length > 0 || unreadable.length > 0) return undefined;

  write(`${file} (policy ${test.policy}, SandboxPolicy "${policy.name}")\n`);
  const outcomes = checkPolicyTestCases(test.results, evaluations);
  for (const o of outcomes) {
    const where = o.testCase.namespace ? ` in ${o.testCase.namespace}` : '';
    write(`  ${o.passed ? 'PASS' : 'FAIL'}  ${o.testCase.object}${where}: ${o.detail}\n`);
  }
  return { passed: outcomes.filter((o) => o.passed).length, failed: outcomes.filter((o) => !o.passed).length };
}

function findTestFiles(paths: readonly string[], warn: (text: string) => void): string[] | undefined {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(child);
      else if (entry.isFile() && TEST_FILE.test(entry.name)) files.push(child);
    }
  };
  for (const path of paths) {
    try {
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    } catch (cause) {
      warn(
        `sandbox-admission: cannot read ${path}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (cause as Error).message}\n`,
      );
      return undefined;
    }
  }
  if (files.length === 0) {
    warn(`sandbox-admission: no test files (*.test.yaml) in ${paths.join(', ')}\n`);
    return undefined;
  }
  return files;
}
