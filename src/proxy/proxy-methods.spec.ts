import { describe, expect, it } from 'vitest';
import { methodLabel, refusedMethod } from './proxy-methods';

describe('proxy methods', () => {
  it('refuses the methods that would take the bot away from the gateway, spelled in any case, as Telegram reads them', () => {
    for (const method of ['setWebhook', 'deleteWebhook', 'getUpdates', 'logOut', 'close', 'SETWEBHOOK', 'getupdates']) {
      expect(refusedMethod(method)).toMatch(
        /^Forbidden: \w+ is refused by the gateway: the gateway owns this bot's webhook/,
      );
    }
    expect(refusedMethod('getWebhookInfo')).toBeNull();
    expect(refusedMethod('sendMessage')).toBeNull();
    expect(refusedMethod('closeForumTopic')).toBeNull();
  });

  it('labels metrics with well-known method names only', () => {
    expect(methodLabel('sendMessage')).toBe('sendMessage');
    expect(methodLabel('SENDMESSAGE')).toBe('sendMessage');
    expect(methodLabel('setWebhook')).toBe('setWebhook');
    expect(methodLabel('someMethodFromTheFuture')).toBe('other');
    expect(methodLabel('x'.repeat(500))).toBe('other');
  });
});
