-- A bot whose token Telegram rejects (401) is marked revoked: its updates wait, like a disabled bot's, until the
-- token is replaced (which clears the mark).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "revoked_at" TIMESTAMPTZ(3);
