import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../common/errors';
import { AdminValidationPipe, validationMessage } from './admin-validation.pipe';
import { ListBotsQueryDto, RegisterBotDto } from './dto/bot.dto';
import { SetWebhookDto } from './dto/webhook.dto';

const TOKEN = '7012345678:AAHk3vQ9x2LmN8pR4tZ6wY1cB5dF7gJ0sEu';

async function failure(value: unknown, metatype: new () => object, type: 'body' | 'query' = 'body') {
  try {
    await new AdminValidationPipe().transform(value, { type, metatype });
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).code).toBe('validation_failed');
    return (error as BadRequestError).message;
  }
  throw new Error('expected a validation failure');
}

describe('AdminValidationPipe', () => {
  it('returns an instance of the DTO with the values converted', async () => {
    const query = await new AdminValidationPipe().transform(
      { limit: '20', enabled: 'false' },
      { type: 'query', metatype: ListBotsQueryDto },
    );
    expect(query).toBeInstanceOf(ListBotsQueryDto);
    expect(query).toEqual({ limit: 20, enabled: false });
    const body = await new AdminValidationPipe().transform(
      { token: ` ${TOKEN} `, name: ' Shop ' },
      { type: 'body', metatype: RegisterBotDto },
    );
    expect(body).toEqual({ token: TOKEN, name: 'Shop' });
  });

  it('names each invalid field once, with its first error', async () => {
    expect(await failure({ limit: 'x', enabled: 'yes', cursor: 'nope' }, ListBotsQueryDto, 'query')).toBe(
      'cursor must be a UUID; limit must be an integer number; enabled must be a boolean value',
    );
    expect(await failure({ maxConnections: 500, allowedUpdates: [1] }, SetWebhookDto)).toBe(
      'maxConnections must not be greater than 100; each value in allowedUpdates must be a string',
    );
    expect(await failure({ dropPendingUpdates: null }, SetWebhookDto)).toBe(
      'dropPendingUpdates must be a boolean value',
    );
  });

  it('never quotes the value it refused', async () => {
    for (const token of [`${TOKEN}!`, TOKEN.replace(':', ''), `${TOKEN}${'x'.repeat(40)}`]) {
      const message = await failure({ token }, RegisterBotDto);
      expect(message).toBe('token must look like a Telegram bot token (<digits>:<30-64 characters>)');
    }
    expect(await failure({ token: TOKEN, [TOKEN.slice(0, 5)]: 1 }, RegisterBotDto)).toBe(
      `property ${TOKEN.slice(0, 5)} should not exist`,
    );
  });
});

describe('validationMessage', () => {
  it('gives nested fields their full path', () => {
    expect(
      validationMessage([
        {
          property: 'options',
          children: [{ property: 'limit', constraints: { max: 'limit must not be greater than 200' }, children: [] }],
        },
      ]),
    ).toBe('options.limit must not be greater than 200');
    expect(validationMessage([])).toBe('Invalid request');
  });
});
