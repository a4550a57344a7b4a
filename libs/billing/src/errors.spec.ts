import { describe, it, expect } from '@jest/globals';
import { BillingException, BillingExceptionCode } from './errors.js';

describe('BillingException', () => {
  it('carries its code, message and field errors', () => {
    const e = new BillingException(BillingExceptionCode.VALIDATION, 'The credit is invalid.', [
      { field: 'amount', message: 'amount must be greater than zero.' },
    ]);
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toBe('The credit is invalid.');
    expect(e.errors).toEqual([{ field: 'amount', message: 'amount must be greater than zero.' }]);
  });

  it('is an Error named BillingException, recognisable with instanceof', () => {
    const e = new BillingException(BillingExceptionCode.NOT_FOUND, 'Account acct_1 does not exist.');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(BillingException);
    expect(e.name).toBe('BillingException');
    expect(e.errors).toBeUndefined();
  });

  it('has string codes for every case the API maps', () => {
    expect(Object.values(BillingExceptionCode).sort()).toEqual(
      ['CONFLICT', 'FORBIDDEN', 'IDEMPOTENCY_MISMATCH', 'NOT_FOUND', 'UNAUTHENTICATED', 'VALIDATION'].sort(),
    );
  });
});
