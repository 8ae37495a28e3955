// `npm run build`: the CLI and server as one ES module, dist/cli/main.js, with each lazily imported part (the other
// CLI commands, the cluster edge, certificate generation) in its own chunk beside it. One module instead of the ~600
// files fastify, pino, prom-client, yaml and ours load one by one is most of what start-up costs (bench/PROFILE.md).
// Type checking is `npm run typecheck`; esbuild only strips the types.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;

rmSync(`${root}dist`, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  // Every chunk sits beside main.js, two levels under the package root as src/main/paths.ts is, so the paths it
  // builds from import.meta.url (package.json, the example policy, certs/) are the same from src/ and dist/.
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node26',
  // The Kubernetes client is loaded only for exec and auth-provider kubeconfig users; pino-pretty only by a
  // developer's terminal. Both stay packages in node_modules, resolved when (if ever) they are needed.
  external: ['@kubernetes/client-node', 'pino-pretty'],
  // fastify, pino and node-forge are CommonJS and require() Node's modules; an ES module has no require of its own.
  banner: {
    js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
  },
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});
// Which package each byte came from, for anyone asking why the bundle is the size it is.
writeFileSync(`${root}dist/meta.json`, JSON.stringify(result.metafile));

// V8's code cache for every chunk, read by src/cli/compile-cache.ts at run time: importing a chunk compiles it, and
// Node writes the cache when the process exits. It is valid for this Node version and these files at this path
// (the image builds it where it runs it, /app/dist); anything else is a cache miss and compiles as usual.
// Chunks that statically import a package left in node_modules (the CLI's audit imports @kubernetes/client-node)
// are left out: importing them would cache that whole package, which serve never loads.
const outputs = result.metafile.outputs;
const loadsPackage = (file: string, seen = new Set<string>()): boolean => {
  if (seen.has(file)) return false;
  seen.add(file);
  return (outputs[file]?.imports ?? []).some(
    (i) => i.kind === 'import-statement' && (i.external ? !isBuiltin(i.path) : loadsPackage(i.path, seen)),
  );
};
const chunks = Object.keys(outputs)
  .filter((f) => f.endsWith('.js') && !loadsPackage(f))
  .map((f) => basename(f));
// Node keeps one cache per uid: the image's build sets SANDBOX_ADMISSION_CACHE_UID to the uid it runs as (65532),
// and the cache is written by a child running as that user (root may start one), then handed back to the builder.
const cacheDir = `${root}dist/compile-cache`;
const cacheUid = process.env.SANDBOX_ADMISSION_CACHE_UID ? Number(process.env.SANDBOX_ADMISSION_CACHE_UID) : undefined;
mkdirSync(cacheDir);
if (cacheUid !== undefined) chownSync(cacheDir, cacheUid, cacheUid);
const warm = spawnSync(
  process.execPath,
  ['--input-type=module', '-e', `for (const f of ${JSON.stringify(chunks)}) await import(${JSON.stringify(`${outdir}/`)} + f);`],
  {
    env: { ...process.env, NODE_COMPILE_CACHE: cacheDir },
    encoding: 'utf8',
    ...(cacheUid !== undefined ? { uid: cacheUid, gid: cacheUid } : {}),
  },
);
if (warm.status !== 0) throw new Error(`writing the compile cache failed:\n${warm.stderr}${warm.error ?? ''}`);
// Owned by the builder and readable by all (Node writes 0600), never writable by the user the server runs as.
for (const path of [cacheDir, ...readdirSync(cacheDir, { recursive: true }).map((p) => join(cacheDir, String(p)))]) {
  chownSync(path, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
}
