// Preloaded with `node --import` into a process under test: appends the URL of every module it loads to the file
// named by SANDBOX_ADMISSION_MODULE_LOG, one per line, as it loads (so a killed process leaves a complete list).
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const logFile = process.env.SANDBOX_ADMISSION_MODULE_LOG;
if (logFile) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(logFile, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
