import type { Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Sends a CSV stream as a download. Headers go out with the first rows; a failure after that can only cut the stream short. */
export async function sendCsv(response: Response, csv: Readable, name: string): Promise<void> {
  response.status(200);
  response.setHeader('Content-Type', 'text/csv; charset=utf-8');
  response.setHeader('Content-Disposition', `attachment; filename="${name}.csv"`);
  response.setHeader('Cache-Control', 'no-store');
  await pipeline(csv, response).catch(() => response.destroy());
}
