/**
 * Imported first by the servers the benchmark starts: when the benchmark process goes away without stopping
 * them (SIGKILL, a crash of the runner), the server is re-parented, notices within a second and stops itself
 * with SIGTERM (its own graceful shutdown), then for certain 10 s later. Costs one unref'd timer.
 */
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  setTimeout(() => process.exit(1), 10_000).unref();
  process.kill(process.pid, 'SIGTERM');
}, 1000);
timer.unref();
