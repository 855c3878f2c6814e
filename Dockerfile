# vdb serve in a container: docker compose up --build (see compose.yaml and docs/rest-api.md).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts/bundle.mjs scripts/code-cache.mjs ./scripts/
# The build runs the CLI once through bin/vdb to make its code cache.
COPY bin ./bin
# npm run build compiles dist/ and bundles the CLI with its server stack (dist/bundle, what
# bin/vdb loads); --ignore-scripts skips the prepare script's own build. Afterwards only the
# library's runtime dependencies stay in node_modules.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production VDB_DB=/data/vdb.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# The snapshot lives on a volume; the node user must own it to write it.
RUN mkdir /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8000
# Inside the container the server must listen on all interfaces; compose.yaml publishes it on the host's loopback only.
CMD ["node", "bin/vdb", "serve", "--host", "0.0.0.0", "--port", "8000"]
