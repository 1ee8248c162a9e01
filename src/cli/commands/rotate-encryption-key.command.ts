import { Inject } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import { BotAdminService } from '../../bots/bot-admin.service';
import { DestinationAdminService } from '../../destinations/destination-admin.service';
import { AppConfig } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { CliCommand } from '../cli-command';
import { parseInteger } from '../cli-options';
import { print, progress, wrap } from '../cli-output';
import { cliPrincipal } from '../cli-principal';

@Command({
  name: 'rotate-encryption-key',
  description: 'Re-encrypt every stored token and secret with the first key of TOKEN_ENCRYPTION_KEYS',
})
export class RotateEncryptionKeyCommand extends CliCommand {
  constructor(
    private readonly admin: BotAdminService,
    private readonly destinations: DestinationAdminService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  @Help('after')
  helpAfter(): string {
    return wrap(
      '\nTo rotate: put the new key first in TOKEN_ENCRYPTION_KEYS (e.g. k2:<new>,k1:<old>) on every gateway ' +
        'process and here, run this command, then remove the old key. Rows are re-encrypted in batches; the command ' +
        'is safe to interrupt and run again (it resumes with the rows still on an old key).',
    );
  }

  async run(_args: string[], flags: { batchSize?: number }): Promise<void> {
    const { reencrypted, primaryKeyId } = await this.admin.rotateEncryptionKey(
      cliPrincipal(),
      { batchSize: flags.batchSize },
      (done, total) => progress(`re-encrypted ${done}/${total}`),
    );
    const secrets = await this.destinations.reencryptSecrets(cliPrincipal());
    if (secrets > 0) print(`Re-encrypted the signing secrets of ${secrets} destination${secrets === 1 ? '' : 's'}.`);
    const oldKeys = this.config.encryptionKeys.map((k) => k.id).filter((id) => id !== primaryKeyId);
    print(
      reencrypted === 0
        ? `Every bot was already on key "${primaryKeyId}".`
        : `Re-encrypted ${reencrypted} bot${reencrypted === 1 ? '' : 's'} with key "${primaryKeyId}".`,
    );
    print(
      oldKeys.length > 0
        ? `No stored token or secret uses ${oldKeys.map((id) => `"${id}"`).join(', ')} any more: once every gateway ` +
            `process runs with "${primaryKeyId}" first, the old keys can now be removed from TOKEN_ENCRYPTION_KEYS.`
        : `TOKEN_ENCRYPTION_KEYS holds only "${primaryKeyId}": there is no old key to remove.`,
    );
  }

  @Option({ flags: '--batch-size <n>', description: 'rows re-encrypted per batch, 1-1000 (default 100)' })
  parseBatchSize(value: string): number {
    return parseInteger(value, 1, 1000);
  }
}
