-- The webhook settings an operator gave with set-webhook, so the health monitor and sync-webhooks can tell drift.
-- NULL: not given (Telegram's default or previous setting is accepted).
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "webhook_max_connections" INTEGER;
ALTER TABLE "bots" ADD COLUMN "webhook_allowed_updates" JSONB;
