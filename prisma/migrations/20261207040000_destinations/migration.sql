-- Destinations: a bot's updates forwarded to the tenant's own services (signed HTTP deliveries, or a Redis stream).

-- CreateTable
CREATE TABLE "destinations" (
    "id" UUID NOT NULL,
    "bot_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT,
    "url" TEXT,
    "update_kinds" JSONB,
    "secret_ciphertext" BYTEA,
    "previous_secret_ciphertext" BYTEA,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "stream_max_len" INTEGER,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_reason" TEXT,
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "destinations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "destinations_bot_id_idx" ON "destinations"("bot_id");

-- AddForeignKey
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_bot_id_fkey" FOREIGN KEY ("bot_id") REFERENCES "bots"("id") ON DELETE CASCADE ON UPDATE CASCADE;
