import { describe, expect, it } from '@jest/globals';
import { logDestination, logFormat } from './logging.js';

describe('logFormat', () => {
  it('is pretty in a terminal outside production', () => {
    expect(logFormat({}, { isTTY: true })).toBe('pretty');
    expect(logFormat({ NODE_ENV: 'development' }, { isTTY: true })).toBe('pretty');
  });

  it('is JSON under NODE_ENV=production, even in a terminal', () => {
    expect(logFormat({ NODE_ENV: 'production' }, { isTTY: true })).toBe('json');
  });

  it('is JSON when stdout is not a terminal (a pipe, a file, docker)', () => {
    expect(logFormat({}, { isTTY: false })).toBe('json');
    expect(logFormat({}, {})).toBe('json');
  });
});

describe('logDestination', () => {
  it('leaves JSON to pino (stdout) and writes pretty lines through pino-pretty', async () => {
    expect(await logDestination('json')).toBeUndefined();
    const pretty = await logDestination('pretty');
    expect(typeof pretty?.write).toBe('function');
  });
});
