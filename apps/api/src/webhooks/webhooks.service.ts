import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import {
  type Resolver,
  type TargetPolicy,
  allowHostsFrom,
  newWebhookSecret,
  parseEndpointInput,
  resolveTarget,
  sealSecret,
  secretsKeyFrom,
} from '@app/billing';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { type DeliveryRow, type EndpointRow, WebhookEndpointsRepository } from '@app/db';
import { decodeCursor, type Page, type PageQuery, toPage } from '../common/pagination.js';
import { badRequest, notFound, unprocessable } from '../common/problem.js';
import type { DeliveriesQuery, DeliveryResponse, EndpointResponse, EndpointWithSecretResponse } from './webhooks.dto.js';

/** How long registering an endpoint waits for its host to resolve. */
const RESOLVE_TIMEOUT_MS = 5_000;
const DEFAULT_PREVIOUS_SECRET_SECONDS = 86_400;
const ENDPOINT_ID = /^we_[0-9a-f]{16}$/;
const DELIVERY_ID = /^dlv_([1-9][0-9]{0,17})$/;

const resolveWithin: Resolver = (host) =>
  Promise.race([
    lookup(host, { all: true, verbatim: true }).then((all) => all.map((a) => ({ address: a.address, family: a.family === 6 ? (6 as const) : (4 as const) }))),
    new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: `no answer within ${RESOLVE_TIMEOUT_MS / 1000} s` })), RESOLVE_TIMEOUT_MS).unref()),
  ]);

/** Webhook endpoints: registered, listed, deleted, their secrets rotated, their deliveries read and retried. */
@Injectable()
export class WebhooksService {
  private readonly policy: TargetPolicy;
  private readonly key: Buffer;

  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.policy = { allowHosts: allowHostsFrom(config.WEBHOOK_ALLOW_HTTP_HOSTS === 'none' ? '' : config.WEBHOOK_ALLOW_HTTP_HOSTS) };
    this.key = secretsKeyFrom(config.SECRETS_KEY);
  }

  /** Checks the URL and the addresses its host resolves to now, then stores the endpoint with its secret sealed. */
  async create(body: object): Promise<EndpointWithSecretResponse> {
    const parsed = parseEndpointInput({ ...body }, this.policy);
    if (!parsed.ok) {
      const detail = `The endpoint is not valid: ${parsed.errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`;
      throw parsed.status === 400 ? badRequest(detail, parsed.errors) : unprocessable(detail, parsed.errors);
    }
    const target = await resolveTarget(parsed.input.url, this.policy, resolveWithin);
    if (!target.ok) throw unprocessable(`The endpoint is not valid: url ${target.message}.`, [{ field: 'url', message: target.message }]);
    const endpointId = `we_${randomBytes(8).toString('hex')}`;
    const secret = newWebhookSecret();
    const row = await this.endpoints.create({
      endpointId,
      url: parsed.input.url.toString(),
      events: parsed.input.events,
      description: parsed.input.description,
      secretSealed: sealSecret(this.key, secret, endpointId),
    });
    return { ...toEndpoint(row), secret };
  }

  async list(query: PageQuery): Promise<Page<EndpointResponse>> {
    const after = decodeCursor(query.cursor, ENDPOINT_ID);
    const rows = await this.endpoints.list({ after, limit: query.limit + 1 });
    return toPage(rows, query.limit, toEndpoint, (row) => row.endpoint_id);
  }

  async get(endpointId: string): Promise<EndpointResponse> {
    return toEndpoint(await this.require(endpointId));
  }

  async delete(endpointId: string): Promise<void> {
    if (!ENDPOINT_ID.test(endpointId) || !(await this.endpoints.delete(endpointId))) throw noEndpoint(endpointId);
  }

  async rotate(endpointId: string, body: { previous_secret_valid_for_seconds?: unknown }): Promise<EndpointWithSecretResponse> {
    const keep = body.previous_secret_valid_for_seconds ?? DEFAULT_PREVIOUS_SECRET_SECONDS;
    if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 0 || keep > DEFAULT_PREVIOUS_SECRET_SECONDS) {
      const message = `must be a whole number of seconds from 0 to ${DEFAULT_PREVIOUS_SECRET_SECONDS}`;
      throw unprocessable(`previous_secret_valid_for_seconds ${message}.`, [{ field: 'previous_secret_valid_for_seconds', message }]);
    }
    await this.require(endpointId);
    const secret = newWebhookSecret();
    const row = await this.endpoints.rotate(endpointId, sealSecret(this.key, secret, endpointId), keep);
    if (!row) throw noEndpoint(endpointId);
    return { ...toEndpoint(row), secret };
  }

  async deliveries(endpointId: string, query: DeliveriesQuery): Promise<Page<DeliveryResponse>> {
    const before = decodeCursor(query.cursor);
    await this.require(endpointId);
    const rows = await this.endpoints.deliveries(endpointId, { status: query.status, before, limit: query.limit + 1 });
    return toPage(rows, query.limit, toDelivery, (row) => row.delivery_id);
  }

  /** Queues the delivery to be sent again now; answers it as it is then (pending). */
  async retry(endpointId: string, deliveryId: string): Promise<DeliveryResponse> {
    const id = DELIVERY_ID.exec(deliveryId)?.[1];
    if (!ENDPOINT_ID.test(endpointId) || !id || !(await this.endpoints.retry(endpointId, id))) throw notFound(`Endpoint ${endpointId} has no delivery ${deliveryId}.`);
    return toDelivery((await this.endpoints.delivery(endpointId, id))!);
  }

  private async require(endpointId: string): Promise<EndpointRow> {
    const row = ENDPOINT_ID.test(endpointId) ? await this.endpoints.find(endpointId) : null;
    if (!row) throw noEndpoint(endpointId);
    return row;
  }
}

const noEndpoint = (endpointId: string) => notFound(`No webhook endpoint ${endpointId}.`);

function toEndpoint(row: EndpointRow): EndpointResponse {
  return {
    endpoint_id: row.endpoint_id,
    url: row.url,
    events: row.events,
    description: row.description,
    created_at: row.created_at.toISOString(),
    secret_rotated_at: row.secret_rotated_at?.toISOString() ?? null,
    previous_secret_expires_at: row.previous_secret_expires_at && row.previous_secret_expires_at > new Date() ? row.previous_secret_expires_at.toISOString() : null,
  };
}

function toDelivery(row: DeliveryRow): DeliveryResponse {
  return {
    delivery_id: `dlv_${row.delivery_id}`,
    endpoint_id: row.endpoint_id,
    event_id: row.event_id,
    type: row.type,
    account_id: row.account_id,
    status: row.status,
    next_attempt_at: row.status === 'pending' ? (row.next_attempt_at?.toISOString() ?? null) : null,
    created_at: row.created_at.toISOString(),
    delivered_at: row.delivered_at?.toISOString() ?? null,
    attempts: row.attempts.map((a) => ({ attempted_at: new Date(a.attempted_at).toISOString(), duration_ms: a.duration_ms, status_code: a.status_code, error: a.error })),
  };
}
