import { describe, expect, it } from '@jest/globals';
import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isTransient } from './transient.js';

describe('isTransient', () => {
  it.each([
    [{ code: '57P01', message: 'terminating connection due to administrator command' }],
    [{ code: '57P03', message: 'the database system is starting up' }],
    [{ code: '40P01', message: 'deadlock detected' }],
    [{ code: '40001', message: 'could not serialize access' }],
    [{ code: '08006', message: 'connection failure' }],
    [{ driverError: { code: '53300' }, message: 'too many connections' }],
    [new Error('connect ECONNREFUSED 127.0.0.1:5432')],
    [Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' })],
    [new Error('Connection terminated unexpectedly')],
    [new QueryRunnerAlreadyReleasedError()],
    [new QueryRunnerProviderAlreadyReleasedError()],
  ])('retries %j', (error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    [{ code: '23505', message: 'duplicate key value violates unique constraint' }],
    [{ code: '22P02', message: 'invalid input syntax' }],
    [new RangeError('no price for qwen3-5-4b in rate card version 9')],
  ])('does not retry %j', (error) => {
    expect(isTransient(error)).toBe(false);
  });
});
