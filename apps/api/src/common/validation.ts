import { type ArgumentMetadata, type PipeTransform, ValidationPipe, type ValidationError } from '@nestjs/common';
import { isStorableString } from '@app/billing';
import { badRequest, type FieldError } from './problem.js';

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = /^\d+$/.test(error.property) ? `${prefix}[${error.property}]` : prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** DTO validation for every route: unknown properties are dropped, failures are 400 problems with per-field errors. */
export const validationPipe = new ValidationPipe({
  whitelist: true,
  transform: true,
  stopAtFirstError: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => badRequest('The request is not valid.', flatten(errors)),
});

/**
 * Path parameters are ids: one holding a NUL character (or an unpaired surrogate) names nothing that
 * can exist, and Postgres would refuse to compare it. A 400, like a parameter that is not valid
 * percent-encoding (the router refuses those before any route runs).
 */
export const pathParamsPipe: PipeTransform = {
  transform(value: unknown, metadata: ArgumentMetadata) {
    if (metadata.type === 'param' && typeof value === 'string' && !isStorableString(value)) {
      const field = metadata.data ?? 'path';
      throw badRequest(`${field} holds a character no id can contain.`, [{ field, message: 'NUL character or unpaired surrogate' }]);
    }
    return value;
  },
};
