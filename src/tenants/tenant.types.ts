/** The tenant every bot registered before tenants existed (or without one) belongs to; created by the migration. */
export const DEFAULT_TENANT_ID = '00000000-0000-4000-8000-000000000000';
export const DEFAULT_TENANT_NAME = 'default';

/**
 * What a tenant API key may do: `read` (look), `write` (change its bots, webhooks, secrets, dead letters), `keys`
 * (create, list and revoke its tenant's keys).
 */
export const SCOPES = ['read', 'write', 'keys'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling. Operators (ADMIN_API_KEYS, the CLI) see everything; a tenant key sees its tenant only. */
export type Principal =
  | {
      kind: 'operator';
      /** `operator:<first 12 hex of SHA-256 of the key>` or `cli:<os user>`: never the key itself. */
      actor: string;
    }
  | {
      kind: 'tenant';
      /** `key:<key id>`. */
      actor: string;
      tenantId: string;
      keyId: string;
      scopes: readonly Scope[];
    };

export function isOperator(principal: Principal): principal is Extract<Principal, { kind: 'operator' }> {
  return principal.kind === 'operator';
}

/** The tenant whose resources the principal may see, or null for all (an operator). */
export function tenantScopeOf(principal: Principal): string | null {
  return principal.kind === 'tenant' ? principal.tenantId : null;
}

/** Quotas as stored: null means the configured default. */
export interface QuotaSettings {
  maxBots: number | null;
  maxPendingUpdatesPerBot: number | null;
  adminRequestsPerMinute: number | null;
}

export interface TenantRecord extends QuotaSettings {
  id: string;
  name: string;
  displayName: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  secretHash: Uint8Array;
  scopes: Scope[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdBy: string;
  createdAt: Date;
}

export type AuditOutcome = 'success' | 'failure' | 'started';

/** One audit record to write. `detail` must never hold a token, a secret or a key. */
export interface AuditInput {
  actor: string;
  tenantId: string | null;
  botId?: string | null;
  action: string;
  target: string;
  outcome: AuditOutcome;
  detail?: Record<string, unknown> | null;
}

export interface AuditRecord extends Required<AuditInput> {
  id: string;
  at: Date;
}

export interface AuditQuery {
  tenantId?: string | null;
  botId?: string;
  action?: string;
  since?: Date;
  until?: Date;
  /** The id of the last record of the previous page (records come newest first). */
  cursor?: string;
  limit: number;
}
