# syntax=docker/dockerfile:1
# Darkroom: one image for every role (`start`, `api`, `worker`, `s3`, `sqs`); pick the role with the command.
# Not built in CI or in the development environment (no Docker there); see docs/DEPLOY.md.

# Production dependencies of the server workspace only: the CDK app (packages/infra) never ships.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY packages/server/package.json packages/server/
COPY packages/s3-server/package.json packages/s3-server/
COPY packages/sqs-server/package.json packages/sqs-server/
COPY packages/aws-auth/package.json packages/aws-auth/
COPY packages/http-guard/package.json packages/http-guard/
COPY packages/edge/package.json packages/edge/
COPY packages/contract/package.json packages/contract/
COPY packages/client/package.json packages/client/
COPY packages/infra/package.json packages/infra/
# --ignore-scripts: the root `prepare` script builds the sources, which are not here yet; the native modules'
# own install steps run in the rebuild.
RUN npm ci --omit=dev --ignore-scripts --workspace=@darkroom/server --include-workspace-root=false \
  && npm rebuild better-sqlite3 sharp

# Compile the TypeScript with the dev dependencies, then throw them away with this stage.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/server/package.json packages/server/
COPY packages/s3-server/package.json packages/s3-server/
COPY packages/sqs-server/package.json packages/sqs-server/
COPY packages/aws-auth/package.json packages/aws-auth/
COPY packages/http-guard/package.json packages/http-guard/
COPY packages/edge/package.json packages/edge/
COPY packages/contract/package.json packages/contract/
COPY packages/client/package.json packages/client/
COPY packages/infra/package.json packages/infra/
COPY packages/web/package.json packages/web/
RUN npm ci --ignore-scripts
COPY packages/server packages/server
# The embedded S3 and SQS servers (the `start`, `s3` and `sqs` roles) and the SigV4 code they share.
COPY packages/s3-server packages/s3-server
COPY packages/sqs-server packages/sqs-server
COPY packages/aws-auth packages/aws-auth
# Timeouts and per-client connection caps of every server.
COPY packages/http-guard packages/http-guard
# The edge function's decision, which the delivery routes run too.
COPY packages/edge packages/edge
# Wire shapes and constants every package shares.
COPY packages/contract packages/contract
# The web app served at `/` (`npm run build` runs vite build on it).
COPY packages/web packages/web
# `darkroom upload` runs the client SDK's compiled dist.
COPY packages/client packages/client
# `npm run build` is scripts/build.mjs (tsc --build, then Vite when the web app's inputs changed).
COPY scripts scripts
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
  DARKROOM_HOST=0.0.0.0 \
  DARKROOM_DATA_DIR=/app/data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY packages/server/package.json packages/server/
COPY packages/server/bin packages/server/bin
COPY --from=build /app/packages/server/dist packages/server/dist
COPY packages/s3-server/package.json packages/s3-server/
COPY --from=build /app/packages/s3-server/dist packages/s3-server/dist
COPY packages/sqs-server/package.json packages/sqs-server/
COPY --from=build /app/packages/sqs-server/dist packages/sqs-server/dist
COPY packages/aws-auth/package.json packages/aws-auth/
COPY packages/http-guard/package.json packages/http-guard/
COPY --from=build /app/packages/aws-auth/dist packages/aws-auth/dist
COPY --from=build /app/packages/http-guard/dist packages/http-guard/dist
COPY packages/edge/package.json packages/edge/
COPY packages/edge/function packages/edge/function
COPY --from=build /app/packages/edge/dist packages/edge/dist
COPY packages/contract/package.json packages/contract/
COPY --from=build /app/packages/contract/dist packages/contract/dist
COPY packages/client/package.json packages/client/
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/web/dist packages/web/dist
# The data dir only matters for `start`, `s3` and `sqs` (and SQLite); on AWS nothing is written here.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000 9000 9324
ENTRYPOINT ["node", "packages/server/bin/darkroom.js"]
CMD ["start"]
