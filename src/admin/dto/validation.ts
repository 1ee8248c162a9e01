import { ValidateIf } from 'class-validator';

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
