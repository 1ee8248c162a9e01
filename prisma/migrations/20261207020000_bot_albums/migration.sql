-- Opt-in per bot: messages of one media group reach the handlers as one album (see ALBUM_WAIT_MS).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "albums" BOOLEAN NOT NULL DEFAULT false;
