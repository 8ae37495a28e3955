#!/usr/bin/env node
// Runs the TypeScript sources directly when they are there (a clone: Node strips the types, so it needs no build
// step, and a dist/ left by an earlier `npm run build` can never run stale code in place of src/), else the bundle
// (a package without its sources).
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
const sources = new URL('../src/cli/main.ts', import.meta.url);
import(existsSync(sources) ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href).then((cli) => cli.runCli(process.argv));

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
