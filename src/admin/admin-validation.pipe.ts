import { Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { BadRequestError } from '../common/errors';

/**
 * Validates admin request bodies and queries against their DTO classes (the same classes the OpenAPI document is
 * generated from). A bad request becomes our BadRequestError (`validation_failed`) naming the fields. Messages are
 * class-validator's or the DTOs' own and never quote the value (no `$value`), so a token sent in a body is not
 * echoed back; `validationError.value: false` keeps values out of the error objects altogether.
 *
 * Each field reports its first error only. A field's decorators are checked from the one nearest the property
 * upwards, so in the DTOs the type check sits nearest the property and range checks above it.
 */
@Injectable()
export class AdminValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors: ValidationError[]) =>
        new BadRequestError(validationMessage(errors), 'validation_failed'),
    });
  }
}

/** One line naming every invalid field, e.g. "token is required; limit must not be greater than 200". */
export function validationMessage(errors: ValidationError[]): string {
  const messages = collect(errors, '');
  return messages.length > 0 ? messages.join('; ') : 'Invalid request';
}

function collect(errors: ValidationError[], parentPath: string): string[] {
  return errors.flatMap((error) => {
    const path = parentPath ? `${parentPath}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      parentPath && message.startsWith(`${error.property} `) ? `${parentPath}.${message}` : message,
    );
    return [...own, ...collect(error.children ?? [], path)];
  });
}
