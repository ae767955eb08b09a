# syntax=docker/dockerfile:1
# Sidekick in a container, built from a clone of this repository (docs/deployment.md, Docker):
#   docker build -t sidekick .
#   docker run -d --name sidekick -p 127.0.0.1:8000:8000 -v sidekick-data:/data --stop-timeout 30 sidekick
# Everything lives in the /data volume: the database, outbox/, media/ and, unless SIDEKICK_SECRET is set,
# the generated secret.key. A container without that volume (or without SIDEKICK_SECRET) gets a new
# secret on every start, and every JWT and reset link issued before it stops working.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles its addon with these when no prebuilt one can be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY src ./src
COPY commands ./commands
# npm ci runs the package's prepare script (npm run build) too; the build is repeated to say so plainly,
# then the dev dependencies (TypeScript, test tools, Deno) go.
RUN npm ci --no-audit --no-fund
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SIDEKICK_DATA_DIR=/data \
    SIDEKICK_HOST=0.0.0.0 \
    SIDEKICK_PORT=8000
WORKDIR /app
# The code stays root's and read-only to the server; only /data is the server's.
COPY --from=build /app/package.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/node_modules ./node_modules
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
VOLUME /data
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 8000
# serve drains in-flight requests on SIGTERM for up to SIDEKICK_DRAIN_TIMEOUT (10s): give `docker stop`
# more than that (--stop-timeout 30, or stop_grace_period: 30s in compose).
STOPSIGNAL SIGTERM
# Healthy while the database can be read and written (GET /healthz answers 200).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SIDEKICK_PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=2", "bin/run.js", "serve"]
