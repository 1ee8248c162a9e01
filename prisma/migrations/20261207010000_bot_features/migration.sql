-- Features per bot: the ordered list of features a bot runs, each with its optional settings, and a version bumped by
-- every write of the list (writes are conditional on the version read).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "features" JSONB NOT NULL DEFAULT '[]';
ALTER TABLE "bots" ADD COLUMN "features_version" INTEGER NOT NULL DEFAULT 1;

-- Bots registered before features were per bot keep what they did: every demo feature, in the old order.
UPDATE "bots" SET "features" = '[{"name": "start"}, {"name": "form"}, {"name": "counter"}, {"name": "callback-query"}, {"name": "echo"}]';
