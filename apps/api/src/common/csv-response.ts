import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';

/**
 * Streams CSV as a download. Headers go out with the first rows; Fastify pipes the rest with
 * back-pressure, and a failure after that can only cut the stream short.
 */
export function sendCsv(reply: FastifyReply, csv: Readable, name: string): void {
  reply
    .status(200)
    .header('Content-Type', 'text/csv; charset=utf-8')
    .header('Content-Disposition', `attachment; filename="${name}.csv"`)
    .header('Cache-Control', 'no-store')
    .send(csv);
}
