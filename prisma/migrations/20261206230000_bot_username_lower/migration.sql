-- Exact, case-insensitive and unique @username lookups (Telegram usernames are ASCII and unique regardless of case).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "username_lower" TEXT;
UPDATE "bots" SET "username_lower" = lower("username");
ALTER TABLE "bots" ALTER COLUMN "username_lower" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "bots_username_lower_key" ON "bots"("username_lower");
