import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';
import { ErrorBody } from '../../common/error-response';

/** The body of every error answer (see common/error-response.ts). */
export class ErrorDto implements ErrorBody {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found', description: 'The HTTP reason phrase' })
  error!: string;

  @ApiProperty({ example: 'No bot @my_shop_bot' })
  message!: string;

  @ApiProperty({
    example: 'bot_not_found',
    description:
      'Stable, machine-readable: unauthorized, validation_failed, invalid_json, invalid_token, invalid_cursor, ' +
      'bot_not_found, dead_letter_not_found, bot_already_registered, concurrent_change, token_rejected, ' +
      'token_bot_mismatch, telegram_rejected, telegram_rate_limited, telegram_unavailable, database_unavailable, ' +
      'forbidden, operator_only, insufficient_scope, rate_limited, bot_quota_exceeded, tenant_not_found, ' +
      'tenant_exists, tenant_not_empty, key_not_found, proxy_credential_not_found, proxy_credential_revoked, ' +
      'proxy_credential_limit',
  })
  code!: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid body, query or token shape (the message names the field)',
  401: 'Missing, wrong, revoked or expired API key',
  403: 'The route is for operators (operator_only), or the key lacks the scope (insufficient_scope)',
  404: 'No such bot (or, for a feature of a bot, the bot does not have it; or no such proxy credential of the bot)',
  409: 'Already registered or existing, changed while the request ran, or a quota or a remaining bot refuses it',
  422:
    'Telegram refused the request (its description is in the message), the token belongs to another bot, or an ' +
    'unknown feature or invalid feature settings',
  429: 'Too many admin requests with this key (rate_limited), or Telegram asks to slow down; see Retry-After',
  502: 'Telegram is unreachable or failed',
  503: 'The database is unavailable; see Retry-After',
};

/** Documents the error answers an operation can give, all with the ErrorDto body. */
export function ApiErrorResponses(...statuses: (keyof typeof DESCRIPTIONS)[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorDto })),
  );
}
