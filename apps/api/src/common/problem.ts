import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';

export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

/** Thrown by code that knows exactly which problem the client has. */
export class ProblemException extends HttpException {
  constructor(
    status: HttpStatus,
    readonly slug: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
    /** RFC 9457 extension members, beside type, title, status and detail (e.g. available, requested). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail, status);
  }
}

export const problemType = (slug: string): string => `/problems/${slug}`;
export const statusTitle = (status: number): string => STATUS_CODES[status] ?? 'Error';

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new ProblemException(HttpStatus.BAD_REQUEST, 'invalid-request', detail, errors);
export const unprocessable = (detail: string, errors?: FieldError[]) =>
  new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, 'unprocessable', detail, errors);
export const notFound = (detail: string) => new ProblemException(HttpStatus.NOT_FOUND, 'not-found', detail);
/** A valid key reaching past its rights. */
export const forbidden = () => new ProblemException(HttpStatus.FORBIDDEN, 'forbidden', 'This key may not do that.');
export const conflict = (slug: string, detail: string) => new ProblemException(HttpStatus.CONFLICT, slug, detail);
