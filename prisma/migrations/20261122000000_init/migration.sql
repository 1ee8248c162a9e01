-- CreateTable
CREATE TABLE "bots" (
    "id" UUID NOT NULL,
    "telegram_id" BIGINT NOT NULL,
    "username" TEXT NOT NULL,
    "first_name" TEXT NOT NULL,
    "name" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "bot_info" JSONB NOT NULL,
    "token_ciphertext" BYTEA NOT NULL,
    "token_key_id" TEXT NOT NULL,
    "token_hash" BYTEA NOT NULL,
    "webhook_secret_ciphertext" BYTEA NOT NULL,
    "previous_secret_ciphertext" BYTEA,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "bots_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "bots_telegram_id_key" ON "bots"("telegram_id");

-- CreateIndex
CREATE UNIQUE INDEX "bots_token_hash_key" ON "bots"("token_hash");

-- CreateIndex
CREATE INDEX "bots_token_key_id_idx" ON "bots"("token_key_id");
