-- What set-webhook was last given beyond the URL: a self-signed certificate (PEM, public) and a fixed IP address.
-- Every later setWebhook the gateway makes (secret rotation, token change, sync) sends them again, because Telegram
-- drops a custom certificate that a setWebhook call leaves out.
-- AlterTable
ALTER TABLE "bots" ADD COLUMN "webhook_certificate" TEXT,
ADD COLUMN "webhook_ip_address" TEXT;
