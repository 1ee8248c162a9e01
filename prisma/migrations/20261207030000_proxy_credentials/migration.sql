-- Credentials of the outbound Bot API proxy: a consumer calls <PROXY_PATH>/bot<credential>/<method> and the gateway
-- swaps in the bot's real token. Only SHA-256 of the credential's random secret is stored; the id is not secret.

-- CreateTable
CREATE TABLE "proxy_credentials" (
    "id" TEXT NOT NULL,
    "bot_id" UUID NOT NULL,
    "name" TEXT,
    "secret_hash" BYTEA NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "proxy_credentials_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "proxy_credentials_bot_id_created_at_idx" ON "proxy_credentials"("bot_id", "created_at");

-- AddForeignKey
ALTER TABLE "proxy_credentials" ADD CONSTRAINT "proxy_credentials_bot_id_fkey" FOREIGN KEY ("bot_id") REFERENCES "bots"("id") ON DELETE CASCADE ON UPDATE CASCADE;
