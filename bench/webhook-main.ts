import './parent-guard.ts';
import { runCli } from '../src/cli/main.ts';

// `sandbox-admission` exactly as bin/sandbox-admission.js runs it from the sources, plus the parent guard.
await runCli(process.argv);
