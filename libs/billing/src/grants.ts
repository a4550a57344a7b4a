import { parseTimestamp } from './event.js';
import { Money } from './money.js';

/**
 * Credit grants. Every credit with a positive amount is a grant; usage and negative adjustments
 * draw from an account's grants in burn order, in ledger order. Nothing here is stored: a grant's
 * remaining, the account's unfunded usage and every allocation are a fold of the ledger, so they
 * can always be recomputed and checked against the balance.
 */

export const CREDIT_KINDS = ['purchase', 'promotional', 'refund', 'adjustment'] as const;
export type CreditKind = (typeof CREDIT_KINDS)[number];
/** Only purchased credit is paid for: its burn is recognised revenue. Every other kind is free. */
export const isPaidCredit = (kind: string): boolean => kind === 'purchase';

export const GRANT_STATUSES = ['active', 'used', 'expired', 'voided'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];
export type GrantEnd = 'expiry' | 'void';

export const DEFAULT_GRANT_PRIORITY = 50;
export const MIN_GRANT_PRIORITY = 0;
export const MAX_GRANT_PRIORITY = 100;
/** How far ahead a grant may expire: further is refused as a typo. */
export const MAX_GRANT_LIFETIME_MS = 10 * 366 * 24 * 3_600_000;

export interface GrantSpec {
  grantId: string;
  /** The credit's ledger entry: grants are created in this order. */
  entryId: bigint;
  creditKind: string;
  amount: Money;
  priority: number;
  expiresAt: Date | null;
}

/**
 * Burn order: lowest priority first, then the earliest expiry (a grant that never expires comes
 * last), then the oldest grant.
 */
export function burnOrder(a: GrantSpec, b: GrantSpec): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ea = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const eb = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0;
}

/** One change to an account's grants, in ledger order. */
export type GrantMovement =
  /** A grant is created; it first covers what earlier usage left unfunded. */
  | { type: 'grant'; grantId: string; at?: Date }
  /** Usage (or a negative adjustment) of `amount` > 0 is debited. */
  | { type: 'debit'; amount: Money; source: 'usage' | 'adjustment'; entryId?: bigint; at?: Date }
  /** The ledger removes `removed` (>= 0) from a grant that ends (expiry or void). */
  | { type: 'end'; grantId: string; kind: GrantEnd; removed: Money; entryId?: bigint; at?: Date };

/** What one debit drew: from a grant, or (grantId null) left unfunded. */
export interface Draw {
  grantId: string | null;
  amount: Money;
}

export type Allocation =
  | { type: 'grant'; grantId: string; amount: Money; cover: Money }
  | { type: 'debit'; amount: Money; source: 'usage' | 'adjustment'; draws: Draw[] }
  /** `left` is what the grant had when it ended; the ledger removed `removed` (they should be equal). */
  | { type: 'end'; grantId: string; kind: GrantEnd; left: Money; removed: Money };

interface GrantState {
  spec: GrantSpec;
  created: boolean;
  remaining: Money;
  ended: GrantEnd | null;
}

/**
 * The state of one account's grants, advanced movement by movement. Deterministic: the same
 * grants and movements always give the same allocations. Invariant after every movement:
 * Σ remaining − unfunded = the balance the same movements give.
 */
export class GrantBook {
  private readonly grants = new Map<string, GrantState>();
  private unfundedAmount = new Money(0);

  constructor(grants: readonly GrantSpec[]) {
    for (const spec of grants) this.grants.set(spec.grantId, { spec, created: false, remaining: new Money(0), ended: null });
  }

  get unfunded(): Money {
    return this.unfundedAmount;
  }

  has(grantId: string): boolean {
    return this.grants.has(grantId);
  }

  /** True once the grant's credit entry has been applied. */
  isCreated(grantId: string): boolean {
    return this.grants.get(grantId)?.created ?? false;
  }

  apply(movement: GrantMovement): Allocation {
    switch (movement.type) {
      case 'grant': {
        const grant = this.require(movement.grantId);
        if (grant.created) throw new RangeError(`grant ${movement.grantId} is created twice`);
        grant.created = true;
        const cover = Money.min(grant.spec.amount, this.unfundedAmount);
        this.unfundedAmount = this.unfundedAmount.sub(cover);
        grant.remaining = grant.spec.amount.sub(cover);
        return { type: 'grant', grantId: grant.spec.grantId, amount: grant.spec.amount, cover };
      }
      case 'debit': {
        if (movement.amount.isNegative()) throw new RangeError(`a debit is a positive amount, got ${movement.amount.toFixed()}`);
        let left = movement.amount;
        const draws: Draw[] = [];
        for (const grant of this.drawable()) {
          if (left.isZero()) break;
          const take = Money.min(grant.remaining, left);
          grant.remaining = grant.remaining.sub(take);
          left = left.sub(take);
          draws.push({ grantId: grant.spec.grantId, amount: take });
        }
        if (left.gt(0)) {
          this.unfundedAmount = this.unfundedAmount.add(left);
          draws.push({ grantId: null, amount: left });
        }
        return { type: 'debit', amount: movement.amount, source: movement.source, draws };
      }
      case 'end': {
        const grant = this.require(movement.grantId);
        if (!grant.created) throw new RangeError(`grant ${movement.grantId} ends before it is created`);
        if (grant.ended) throw new RangeError(`grant ${movement.grantId} ends twice`);
        const left = grant.remaining;
        grant.remaining = grant.remaining.sub(movement.removed);
        grant.ended = movement.kind;
        return { type: 'end', grantId: grant.spec.grantId, kind: movement.kind, left, removed: movement.removed };
      }
    }
  }

  remaining(grantId: string): Money {
    return this.require(grantId).remaining;
  }

  status(grantId: string): GrantStatus {
    const grant = this.require(grantId);
    if (grant.ended === 'expiry') return 'expired';
    if (grant.ended === 'void') return 'voided';
    return grant.remaining.gt(0) ? 'active' : 'used';
  }

  /** Σ remaining of every created grant (ended ones hold nothing unless the ledger removed too little). */
  totalRemaining(): Money {
    let total = new Money(0);
    for (const grant of this.grants.values()) if (grant.created) total = total.add(grant.remaining);
    return total;
  }

  /** Σ remaining − unfunded: what the balance must be. */
  balance(): Money {
    return this.totalRemaining().sub(this.unfundedAmount);
  }

  /** Created grants that can be drawn from now, in burn order. */
  private drawable(): GrantState[] {
    return [...this.grants.values()].filter((g) => g.created && !g.ended && g.remaining.gt(0)).sort((a, b) => burnOrder(a.spec, b.spec));
  }

  private require(grantId: string): GrantState {
    const grant = this.grants.get(grantId);
    if (!grant) throw new RangeError(`unknown grant ${grantId}`);
    return grant;
  }
}

/** A ledger entry that is not usage: a credit, an adjustment, an expiry or a void. */
export interface StructuralEntry {
  entryId: bigint;
  kind: 'credit' | 'adjustment' | 'expiry' | 'void';
  amount: Money;
  balanceAfter: Money;
  /** expiry and void entries name their grant here. */
  reference: string | null;
  createdAt: Date;
}

/** How a grant ended (grants table), when it has. */
export interface GrantEnding {
  grantId: string;
  kind: GrantEnd;
  /** The expiry or void ledger entry; null when nothing was left to remove. */
  entryId: bigint | null;
  /** With no entry: the account's latest ledger entry, the balance then, and the instant. */
  afterEntryId: bigint | null;
  balance: Money | null;
  endedAt: Date;
}

/** A point of the ledger whose balance is known: the state of the grants there is recorded. */
export interface Checkpoint {
  id: string;
  /** After every entry created before this instant. */
  at: Date;
  balance: Money;
}

export type TimelineStep = GrantMovement | { type: 'checkpoint'; id: string };

export interface Timeline {
  steps: TimelineStep[];
  /** Ledger facts that no movement explains (they make the fold disagree with the balance). */
  anomalies: string[];
}

/**
 * A usage entry the caller wants its own movement for (the allocation export): the usage just
 * before it is cut there, at its balance_after, and carries its entry id.
 */
export interface EntryMark {
  entryId: bigint;
  balanceAfter: Money;
  createdAt: Date;
}

/** A point that is not an entry: it sits after `slot` entries, at a known balance. */
interface Marker {
  slot: number;
  /** The entry it follows, when known (endings, marks); time otherwise (checkpoints). */
  after: bigint | null;
  at: Date;
  /** The usage entry whose debit ends at this marker. */
  closes?: bigint;
  /** At the same place: checkpoints, then marks (which close the entry itself), then endings after it. */
  rank: number;
  balance: Money;
  steps: TimelineStep[];
}

/**
 * Turns an account's structural ledger entries (in entry order) into grant movements. Usage
 * between two of them is not read entry by entry: it is the fall of the balance between them
 * (the first one's balance_after less the balance just before the next), since every entry in
 * between is usage. Markers with a known balance split that usage where they fall: checkpoints
 * (a month boundary: after every entry created before it) and grants that ended with nothing
 * left (after the entry they followed). `end` is the balance at the end of the timeline (now).
 */
export function grantTimeline(input: {
  grants: readonly GrantSpec[];
  entries: readonly StructuralEntry[];
  endings: readonly GrantEnding[];
  checkpoints?: readonly Checkpoint[];
  marks?: readonly EntryMark[];
  end: Money;
}): Timeline {
  const anomalies: string[] = [];
  const entries = [...input.entries].sort((a, b) => (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
  const grantOfEntry = new Map(input.grants.map((g) => [g.entryId, g]));
  const endingOfEntry = new Map(input.endings.filter((e) => e.entryId !== null).map((e) => [e.entryId!, e]));
  const entryIds = new Set(entries.map((e) => e.entryId));
  for (const grant of input.grants) if (!entryIds.has(grant.entryId)) anomalies.push(`grant ${grant.grantId} has no credit entry ${grant.entryId}`);

  const markers: Marker[] = [];
  for (const ending of input.endings) {
    if (ending.entryId !== null) {
      if (!entryIds.has(ending.entryId)) anomalies.push(`grant ${ending.grantId} ended by entry ${ending.entryId}, which is not in the ledger`);
      continue;
    }
    const after = ending.afterEntryId ?? 0n;
    markers.push({
      slot: entriesUpTo(entries, after),
      after,
      at: ending.endedAt,
      rank: 2,
      balance: ending.balance ?? new Money(0),
      steps: [{ type: 'end', grantId: ending.grantId, kind: ending.kind, removed: new Money(0), at: ending.endedAt }],
    });
  }
  for (const checkpoint of input.checkpoints ?? []) {
    markers.push({
      slot: entries.filter((e) => e.createdAt < checkpoint.at).length,
      after: null,
      at: checkpoint.at,
      rank: 0,
      balance: checkpoint.balance,
      steps: [{ type: 'checkpoint', id: checkpoint.id }],
    });
  }
  for (const mark of input.marks ?? []) {
    markers.push({ slot: entriesUpTo(entries, mark.entryId), after: mark.entryId, at: mark.createdAt, closes: mark.entryId, rank: 1, balance: mark.balanceAfter, steps: [] });
  }
  markers.sort(
    (a, b) =>
      a.slot - b.slot ||
      (a.after !== null && b.after !== null ? (a.after < b.after ? -1 : a.after > b.after ? 1 : 0) : a.at.getTime() - b.at.getTime()) ||
      a.rank - b.rank,
  );

  const steps: TimelineStep[] = [];
  let balance = new Money(0);
  const usageUntil = (next: Money, entryId?: bigint) => {
    const fall = balance.sub(next);
    if (fall.gt(0)) steps.push({ type: 'debit', amount: fall, source: 'usage', entryId });
    else if (fall.lt(0)) anomalies.push(`the balance rose by ${fall.neg().toFixed()} with no credit to explain it`);
  };
  let m = 0;
  for (let slot = 0; slot <= entries.length; slot++) {
    for (; m < markers.length && markers[m].slot === slot; m++) {
      usageUntil(markers[m].balance, markers[m].closes);
      steps.push(...markers[m].steps);
      balance = markers[m].balance;
    }
    if (slot === entries.length) break;
    const entry = entries[slot];
    usageUntil(entry.balanceAfter.sub(entry.amount));
    steps.push(...movementOf(entry, grantOfEntry, endingOfEntry, anomalies));
    balance = entry.balanceAfter;
  }
  usageUntil(input.end);
  return { steps, anomalies };
}

/** How many of the entries (in entry order) have an id at most `entryId`. */
function entriesUpTo(entries: readonly StructuralEntry[], entryId: bigint): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].entryId <= entryId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function movementOf(
  entry: StructuralEntry,
  grantOfEntry: Map<bigint, GrantSpec>,
  endingOfEntry: Map<bigint, GrantEnding>,
  anomalies: string[],
): GrantMovement[] {
  if (entry.kind === 'expiry' || entry.kind === 'void') {
    const ending = endingOfEntry.get(entry.entryId);
    if (!ending || ending.grantId !== entry.reference || ending.kind !== entry.kind) {
      anomalies.push(`${entry.kind} entry ${entry.entryId} is not the recorded end of grant ${entry.reference}`);
      return [];
    }
    return [{ type: 'end', grantId: ending.grantId, kind: ending.kind, removed: entry.amount.neg(), entryId: entry.entryId, at: entry.createdAt }];
  }
  if (entry.amount.gt(0)) {
    const grant = grantOfEntry.get(entry.entryId);
    if (!grant) {
      anomalies.push(`credit entry ${entry.entryId} of ${entry.amount.toFixed()} has no grant`);
      return [];
    }
    return [{ type: 'grant', grantId: grant.grantId, at: entry.createdAt }];
  }
  return [{ type: 'debit', amount: entry.amount.neg(), source: 'adjustment', entryId: entry.entryId, at: entry.createdAt }];
}

/** The state of an account's grants at a checkpoint. */
export interface GrantSnapshot {
  remaining: Map<string, Money>;
  unfunded: Money;
  balance: Money;
}

export interface AccountFold {
  book: GrantBook;
  anomalies: string[];
  /** By checkpoint id. */
  snapshots: Map<string, GrantSnapshot>;
}

/**
 * Folds one account's grants over its ledger: the timeline of grantTimeline applied to a
 * GrantBook, with the state at each checkpoint, and every allocation passed to `onAllocation`
 * (with the checkpoints passed so far, so a caller can tell which period it falls in).
 */
export function foldAccount(
  input: Parameters<typeof grantTimeline>[0],
  onAllocation?: (allocation: Allocation, movement: GrantMovement, passed: ReadonlySet<string>) => void,
): AccountFold {
  const timeline = grantTimeline(input);
  const book = new GrantBook(input.grants);
  const snapshots = new Map<string, GrantSnapshot>();
  const passed = new Set<string>();
  const anomalies = [...timeline.anomalies];
  for (const step of timeline.steps) {
    if (step.type === 'checkpoint') {
      const remaining = new Map<string, Money>();
      for (const grant of input.grants) if (book.isCreated(grant.grantId)) remaining.set(grant.grantId, book.remaining(grant.grantId));
      snapshots.set(step.id, { remaining, unfunded: book.unfunded, balance: book.balance() });
      passed.add(step.id);
      continue;
    }
    try {
      const allocation = book.apply(step);
      onAllocation?.(allocation, step, passed);
    } catch (error) {
      anomalies.push((error as Error).message);
    }
  }
  return { book, anomalies, snapshots };
}

export interface GrantTerms {
  priority: number;
  expiresAt: Date | null;
}

export type GrantTermsResult = { ok: true; terms: GrantTerms } | { ok: false; errors: { field: string; message: string }[] };

/**
 * Reads a credit's optional `expires_at` (ISO-8601 with an offset, after `now`, at most ten years
 * ahead) and `priority` (an integer 0-100, default 50). Only a positive amount is a grant: a
 * negative adjustment takes neither.
 */
export function parseGrantTerms(input: { expires_at?: unknown; priority?: unknown }, opts: { now: Date; grant: boolean }): GrantTermsResult {
  const errors: { field: string; message: string }[] = [];
  let priority = DEFAULT_GRANT_PRIORITY;
  let expiresAt: Date | null = null;
  if (input.priority !== undefined && input.priority !== null) {
    if (!opts.grant) errors.push({ field: 'priority', message: 'only a positive credit is a grant with a priority' });
    else if (typeof input.priority !== 'number' || !Number.isInteger(input.priority) || input.priority < MIN_GRANT_PRIORITY || input.priority > MAX_GRANT_PRIORITY) {
      errors.push({ field: 'priority', message: `must be a whole number from ${MIN_GRANT_PRIORITY} to ${MAX_GRANT_PRIORITY}` });
    } else priority = input.priority;
  }
  if (input.expires_at !== undefined && input.expires_at !== null) {
    const at = parseTimestamp(input.expires_at);
    if (!opts.grant) errors.push({ field: 'expires_at', message: 'only a positive credit is a grant that can expire' });
    else if (!at) errors.push({ field: 'expires_at', message: 'must be an ISO-8601 instant with an offset, such as "2027-12-01T00:00:00Z"' });
    else if (at.getTime() <= opts.now.getTime()) errors.push({ field: 'expires_at', message: 'must be in the future' });
    else if (at.getTime() > opts.now.getTime() + MAX_GRANT_LIFETIME_MS) errors.push({ field: 'expires_at', message: 'must be at most ten years ahead' });
    else expiresAt = at;
  }
  return errors.length ? { ok: false, errors } : { ok: true, terms: { priority, expiresAt } };
}

/** A grant's id is its credit entry's, so the two can always be told from each other. */
export const GRANT_ID_PREFIX = 'gr_';
export const grantIdOf = (entryId: string | bigint): string => `${GRANT_ID_PREFIX}${entryId}`;
