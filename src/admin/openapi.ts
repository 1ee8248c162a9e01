import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AdminModule } from './admin.module';

/**
 * The admin API's OpenAPI document at /docs/json and Swagger UI at /docs, generated from the controllers and the
 * DTO classes that also validate the requests. The document is built on its first request. On Fastify the UI's
 * assets are served by @fastify/static, registered under /docs only.
 */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('tg-gateway admin API')
    .setDescription(
      'Register and manage the bots this gateway serves. Every request needs `Authorization: Bearer <key>`: an ' +
        'operator key (ADMIN_API_KEYS: everything) or a tenant API key `tgw_<id>_<secret>` (its own tenant only; ' +
        "another tenant's bots answer 404 like missing ones). Responses never contain a token or a webhook secret. " +
        'Errors are ' +
        '`{ statusCode, error, message, code }` with a stable `code`.',
    )
    .setVersion('1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of ADMIN_API_KEYS, or a tenant API key' })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config, { include: [AdminModule] }), {
    jsonDocumentUrl: 'docs/json',
    raw: ['json'],
    customSiteTitle: 'tg-gateway admin API',
  });
}
