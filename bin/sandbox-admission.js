#!/usr/bin/env node
// Runs the compiled CLI when the package was built (the container image), else the TypeScript sources
// directly (Node strips the types), so a clone needs no build step.
// Kept to syntax every Node that can load an ES module parses (no top-level await), so that an old Node
// gets one line saying what to do instead of a SyntaxError or an unknown-extension stack trace.
import { existsSync, readFileSync } from 'fs';

const wanted = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
if (!satisfiesMinimum(process.versions.node, wanted)) {
  process.stderr.write(
    'sandbox-admission: needs Node.js ' +
      wanted +
      ' (package.json engines), this is Node.js ' +
      process.version +
      '; in a clone run it as `npx sandbox-admission` (npm ci brings Node 26), or install Node 26\n',
  );
  process.exit(2);
}
const compiled = new URL('../dist/cli/main.js', import.meta.url);
import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href).then((cli) => cli.runCli(process.argv));

/** `26.1.0` against `>=26.0.0` (the only form engines uses here). */
function satisfiesMinimum(version, range) {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(range).trim());
  if (!match) return true;
  const have = version.split('.').map(Number);
  const need = [Number(match[1]), Number(match[2] || 0), Number(match[3] || 0)];
  for (let i = 0; i < 3; i++) {
    if ((have[i] || 0) !== need[i]) return (have[i] || 0) > need[i];
  }
  return true;
}
