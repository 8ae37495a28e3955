// `npm run build`: the CLI and server as one ES module, dist/cli/main.js, with each lazily imported part (the other
// CLI commands, the cluster edge, certificate generation) in its own chunk beside it. One module instead of the ~600
// files fastify, pino, prom-client, yaml and ours load one by one is most of what start-up costs (bench/PROFILE.md).
// Type checking is `npm run typecheck`; esbuild only strips the types.
import { rmSync, writeFileSync } from 'node:fs';
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
