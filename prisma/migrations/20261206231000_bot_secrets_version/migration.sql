-- Every write of a bot's ciphertexts is conditional on the version it read, and bumps it (no lost writes).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "secrets_version" INTEGER NOT NULL DEFAULT 1;
