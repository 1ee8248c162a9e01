import { Injectable } from '@nestjs/common';
import { BotAdminService } from '../bots/bot-admin.service';
import { NotFoundError } from '../common/errors';
import { AuditService } from '../tenants/audit.service';
import { Principal, tenantScopeOf } from '../tenants/tenant.types';
import { DeadLetterDetail, DeadLettersService, DeadLetterView } from '../updates/dead-letters.service';

/**
 * Dead letters as a principal may see and act on them: a tenant key sees its tenant's bots' dead letters only, and
 * another tenant's dead letter answers like one that does not exist. Dead letters live in Redis, so their actions
 * cannot share a transaction with the audit record: each is recorded as `started` in Postgres first (no record, no
 * action) and settled right after (see AuditService.around).
 */
@Injectable()
export class DeadLetterAdminService {
  constructor(
    private readonly deadLetters: DeadLettersService,
    private readonly bots: BotAdminService,
    private readonly audit: AuditService,
  ) {}

  async list(
    principal: Principal,
    query: { bot?: string; cursor?: string; limit?: number },
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> {
    const botId = query.bot === undefined ? undefined : (await this.bots.find(principal, query.bot)).id;
    const botIds = botId === undefined ? ((await this.bots.visibleBotIds(principal)) ?? undefined) : undefined;
    return this.deadLetters.list({ botId, botIds, cursor: query.cursor, limit: query.limit });
  }

  async get(principal: Principal, id: string): Promise<DeadLetterDetail> {
    const detail = await this.deadLetters.get(id);
    await this.ownerOf(principal, detail);
    return detail;
  }

  async retry(principal: Principal, id: string): Promise<DeadLetterView> {
    return this.audit.guard(principal, 'dead_letter.retry', `dead-letter:${id}`, async () => {
      const found = await this.deadLetters.get(id);
      const tenantId = await this.ownerOf(principal, found);
      return this.audit.around(
        principal,
        'dead_letter.retry',
        { tenantId, botId: found.botId, target: `dead-letter:${found.id}` },
        () => this.deadLetters.retry(found.id),
      );
    });
  }

  /** Retries every dead letter of a bot; returns how many. */
  async retryAll(principal: Principal, ref: string): Promise<number> {
    return this.audit.guard(principal, 'dead_letter.retry_all', ref, async () => {
      const bot = await this.bots.find(principal, ref);
      return this.audit.around(
        principal,
        'dead_letter.retry_all',
        { tenantId: bot.tenantId, botId: bot.id, target: `bot:@${bot.username}` },
        () => this.deadLetters.retryAll(bot.id),
        (count) => ({ retried: count }),
      );
    });
  }

  /** Deletes one dead letter (`id`), a bot's (`bot`), or all the principal may see. Returns how many. */
  async purge(principal: Principal, target: { id?: string; bot?: string }): Promise<number> {
    const label = target.id ? `dead-letter:${target.id}` : target.bot ? target.bot : 'all';
    return this.audit.guard(principal, 'dead_letter.purge', label, async () => {
      if (target.id !== undefined) {
        const found = await this.deadLetters.get(target.id);
        const tenantId = await this.ownerOf(principal, found);
        return this.audit.around(
          principal,
          'dead_letter.purge',
          { tenantId, botId: found.botId, target: `dead-letter:${found.id}` },
          () => this.deadLetters.purge({ id: found.id }),
          (count) => ({ purged: count }),
        );
      }
      if (target.bot !== undefined) {
        const bot = await this.bots.find(principal, target.bot);
        return this.audit.around(
          principal,
          'dead_letter.purge',
          { tenantId: bot.tenantId, botId: bot.id, target: `bot:@${bot.username}` },
          () => this.deadLetters.purge({ botId: bot.id }),
          (count) => ({ purged: count }),
        );
      }
      const visible = await this.bots.visibleBotIds(principal);
      return this.audit.around(
        principal,
        'dead_letter.purge',
        { tenantId: tenantScopeOf(principal), target: 'all' },
        async () => {
          if (visible === null) return this.deadLetters.purge({});
          let count = 0;
          for (const botId of visible) count += await this.deadLetters.purge({ botId });
          return count;
        },
        (count) => ({ purged: count }),
      );
    });
  }

  /** The tenant of the dead letter's bot when the principal may see it; dead_letter_not_found otherwise. */
  private async ownerOf(principal: Principal, deadLetter: DeadLetterView): Promise<string | null> {
    try {
      return (await this.bots.find(principal, deadLetter.botId)).tenantId;
    } catch (error) {
      // A dead letter of a bot deleted since: only an operator may still see it.
      if (error instanceof NotFoundError && principal.kind === 'operator') return null;
      if (error instanceof NotFoundError) {
        throw new NotFoundError(`No dead letter ${deadLetter.id.slice(0, 120)}`, 'dead_letter_not_found');
      }
      throw error;
    }
  }
}
