import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../common/errors';
import { serializeError } from '../common/logger';
import { redactSecrets } from '../common/redact';
import { AuditRepository } from './audit.repository';
import { AuditInput, AuditQuery, AuditRecord, Principal, tenantScopeOf } from './tenant.types';

/** What a change is about: whose it is (tenant, bot) and a short name of the target. */
export interface AuditTarget {
  tenantId: string | null;
  botId?: string | null;
  target: string;
}

/**
 * The audit trail. A change in Postgres writes its record in the same transaction (call `record` inside
 * `UnitOfWork.run`); a change elsewhere (dead letters in Redis, a webhook at Telegram) goes through `around`, which
 * writes the record as `started` before the change and settles it after, so no such change can happen unrecorded:
 * when Postgres cannot take the record, the change is not made.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');
  /** Errors already settled in a record by `around`: `failure` does not file them twice. */
  private readonly recorded = new WeakSet<object>();

  constructor(private readonly audit: AuditRepository) {}

  /** Writes a record of a change that succeeded; joins the open transaction. */
  async record(
    principal: Principal,
    action: string,
    target: AuditTarget,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.insert(entry(principal, action, target, 'success', detail));
  }

  /**
   * Records a refused or failed change (best effort: nothing changed, so there is nothing to keep atomic with). The
   * tenant is the caller's, so a refusal about another tenant's resource is filed under the caller only.
   */
  async failure(principal: Principal, action: string, target: string, error: unknown): Promise<void> {
    if (typeof error === 'object' && error !== null && this.recorded.has(error)) return;
    const code = error instanceof AppError ? error.code : 'unexpected_error';
    try {
      await this.audit.insert(
        entry(principal, action, { tenantId: tenantScopeOf(principal), target }, 'failure', { code }),
      );
    } catch (failure) {
      this.logger.warn({
        msg: 'Could not record a failed change in the audit trail',
        action,
        err: serializeError(failure),
      });
    }
  }

  /**
   * A change outside Postgres: recorded as `started` first (if that fails, the change is not made), then settled
   * as `success` or `failure`. A crash in between leaves the record `started`: the change may or may not have happened.
   */
  async around<T>(
    principal: Principal,
    action: string,
    target: AuditTarget,
    change: () => Promise<T>,
    detailOf?: (result: T) => Record<string, unknown>,
  ): Promise<T> {
    const id = await this.audit.insert(entry(principal, action, target, 'started'));
    let result: T;
    try {
      result = await change();
    } catch (error) {
      await this.settle(id, 'failure', { code: error instanceof AppError ? error.code : 'unexpected_error' });
      if (typeof error === 'object' && error !== null) this.recorded.add(error);
      throw error;
    }
    await this.settle(id, 'success', detailOf?.(result));
    return result;
  }

  /** Runs a change; when it fails, files the failure (see `failure`) and rethrows. */
  async guard<T>(principal: Principal, action: string, target: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (error) {
      await this.failure(principal, action, target, error);
      throw error;
    }
  }

  /** Newest first. A tenant key sees its tenant's records only. */
  async list(
    principal: Principal,
    query: Omit<AuditQuery, 'tenantId'> & { tenantId?: string },
  ): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
    const scope = tenantScopeOf(principal);
    const rows = await this.audit.list({ ...query, tenantId: scope ?? query.tenantId });
    const items = rows.slice(0, query.limit);
    return { items, nextCursor: rows.length > query.limit ? items[items.length - 1].id : null };
  }

  private async settle(id: string, outcome: 'success' | 'failure', detail?: Record<string, unknown>): Promise<void> {
    try {
      await this.audit.settle(id, outcome, detail);
    } catch (error) {
      this.logger.warn({ msg: 'Could not settle an audit record; it stays "started"', id, err: serializeError(error) });
    }
  }
}

function entry(
  principal: Principal,
  action: string,
  target: AuditTarget,
  outcome: AuditInput['outcome'],
  detail?: Record<string, unknown>,
): AuditInput {
  return {
    actor: principal.actor,
    tenantId: target.tenantId,
    botId: target.botId ?? null,
    action,
    target: redactSecrets(target.target).slice(0, 200),
    outcome,
    detail: detail ?? null,
  };
}
