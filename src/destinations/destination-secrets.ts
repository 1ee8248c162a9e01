import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Keyring } from '../bots/token-crypto';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { DestinationRecord } from './destination.types';

/** Signing secrets of HTTP destinations: made here, kept encrypted like tokens (bound to the row), opened to sign. */
@Injectable()
export class DestinationSecrets {
  private readonly keyring: Keyring;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keyring = new Keyring(config.encryptionKeys);
  }

  /** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
  generate(): string {
    return `whsec_${randomBytes(32).toString('base64')}`;
  }

  seal(destinationId: string, secret: string): Buffer {
    return this.keyring.encrypt(secret, 'destination-secret', destinationId);
  }

  /** The secrets re-encrypted with the primary key; null when they are on it already. */
  reseal(record: DestinationRecord): Pick<DestinationRecord, 'secretCiphertext' | 'previousSecretCiphertext'> | null {
    const primary = this.keyring.primaryKeyId;
    const stale = (envelope: Uint8Array | null) => envelope !== null && Keyring.keyIdOf(envelope) !== primary;
    if (!stale(record.secretCiphertext) && !stale(record.previousSecretCiphertext)) return null;
    const again = (envelope: Uint8Array | null) =>
      envelope && this.seal(record.id, this.keyring.decrypt(envelope, 'destination-secret', record.id));
    return {
      secretCiphertext: again(record.secretCiphertext),
      previousSecretCiphertext: again(record.previousSecretCiphertext),
    };
  }

  /** The secrets that sign now: the current one, and the previous one until its overlap ends. */
  signing(record: DestinationRecord, now = Date.now()): string[] {
    if (!record.secretCiphertext) return [];
    const secrets = [this.keyring.decrypt(record.secretCiphertext, 'destination-secret', record.id)];
    if (record.previousSecretCiphertext && (record.previousSecretExpiresAt?.getTime() ?? 0) > now) {
      secrets.push(this.keyring.decrypt(record.previousSecretCiphertext, 'destination-secret', record.id));
    }
    return secrets;
  }
}
