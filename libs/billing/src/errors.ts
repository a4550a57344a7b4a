/** Domain error codes; the API maps each to an HTTP status in one place. */
export enum BillingExceptionCode {
  /** Input breaks a rule (422). */
  VALIDATION = 'VALIDATION',
  /** No or unknown credentials (401). */
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  /** Credentials valid, but not for this resource (403). */
  FORBIDDEN = 'FORBIDDEN',
  /** Unknown id (404). */
  NOT_FOUND = 'NOT_FOUND',
  /** Clashes with existing state: an existing id, an invoice already finalized (409). */
  CONFLICT = 'CONFLICT',
  /** An Idempotency-Key reused with a different body (409/422). */
  IDEMPOTENCY_MISMATCH = 'IDEMPOTENCY_MISMATCH',
}

export interface FieldError {
  field: string;
  message: string;
}

export class BillingException extends Error {
  constructor(
    readonly code: BillingExceptionCode,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = 'BillingException';
  }
}
