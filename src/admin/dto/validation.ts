import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';

/**
 * The field may be left out, but not sent as null (class-validator's IsOptional lets null through, which would
 * reach Telegram or the database as a value).
 */
export function Omittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

/** JSON has real booleans; a query string has "true" / "false". Anything else is left for IsBoolean to refuse. */
export function queryBoolean({ value }: { value: unknown }): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

/** Digits only ("1e2", "0x10" and "" are refused rather than read as numbers). */
export function queryInteger({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
}

export function trimmed({ value }: { value: unknown }): unknown {
  return typeof value === 'string' ? value.trim() : value;
}

/** The `limit` query parameter of a paginated list: 1–200, 50 when left out (the services' default). */
export function PageLimit(): PropertyDecorator {
  // In the order the stacked decorators had (applied bottom-up), so validation messages keep their order.
  return applyDecorators(
    IsInt(),
    Min(1),
    Max(200),
    Omittable(),
    Transform(queryInteger),
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50, example: 50 }),
  );
}
