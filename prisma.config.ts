import { defineConfig } from 'prisma/config';

// DATABASE_URL is optional here so that `prisma generate` works without a database; commands that need one
// fail with Prisma's own message when it is missing.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway' },
});
