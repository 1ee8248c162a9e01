# syntax=docker/dockerfile:1
# tg-gateway image: one image, three commands (see docker-compose.yml):
#   node --max-semi-space-size=64 dist/main.js         API and worker in one process (default)
#   node dist/main-api.js                              webhook/admin API only
#   node --max-semi-space-size=64 dist/main-worker.js  queue worker only
#   node dist/migrate.js                               create the database if needed, apply prisma/migrations, exit

# ---- build: all dependencies, Prisma client generation (postinstall), TypeScript -> dist/
FROM node:24-bookworm-slim AS build
WORKDIR /app
# What `npm install` needs, including its postinstall step (scripts/prisma-generate.js -> src/generated/prisma).
# Not `npm ci`: it fails when the lockfile lacks some platform's optional packages (@swc/core-*, msgpackr-extract-*),
# as a lockfile made against a registry without them does; `npm install` fills them in.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.js scripts/
COPY prisma/schema.prisma prisma/
RUN npm install --no-audit --no-fund
COPY . .
# The generated Prisma client lives in src/generated/prisma and is compiled into dist/generated/prisma.
# `npm run build` makes dist a link to .build/dist-…; the runtime stage copies the files themselves (cp -L).
RUN npm run build && test -f dist/generated/prisma/client.js && test -f dist/migrate.js && cp -RL dist /tmp/dist

# ---- runtime: production dependencies only, compiled code, migrations
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the postinstall generator needs the dev dependency `prisma`; the client comes from the build.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /tmp/dist ./dist
# dist/migrate.js finds prisma/migrations next to package.json.
COPY prisma ./prisma
USER node
EXPOSE 3000
# --max-semi-space-size=64 for the worker in it: docs/architecture.md, "Worker heap".
CMD ["node", "--max-semi-space-size=64", "dist/main.js"]
