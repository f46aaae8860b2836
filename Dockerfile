# syntax=docker/dockerfile:1
# evsys worker image. The Temporal server runs in its own container (see docker-compose.yml),
# so the Temporal CLI that `npm ci`'s postinstall tries to fetch with pip is not needed here:
# that script tolerates its failure.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Only for a from-source build of better-sqlite3 when no prebuilt binary fits the platform;
# this stage is thrown away.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The postinstall script must be present before `npm ci` runs it.
COPY scripts ./scripts
# tsx is a runtime dependency: the CLI runs from TypeScript source, typescript itself is not needed.
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    EVSYS_LEDGER=/data/ledger.sqlite
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# The app stays root-owned and read-only to the worker; only the ledger volume is writable.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
CMD ["npx", "evsys", "worker"]
