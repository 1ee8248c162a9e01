import { applyDecorators } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';

/** The `:id` path parameter: whatever BotAdminService resolves. */
export function ApiBotRef(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiParam({
      name: 'id',
      description: 'The gateway id (UUID), the Telegram bot id, or @username (%40username)',
      example: '@my_shop_bot',
    }),
  );
}
