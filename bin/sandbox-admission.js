#!/usr/bin/env node
// Runs the compiled CLI when the package was built (the container image), else the TypeScript sources
// directly (Node strips the types), so a clone needs no build step.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { runCli } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
await runCli(process.argv);
