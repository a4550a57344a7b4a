import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type Allocation, GrantBook, type GrantEnding, type GrantSpec, type StructuralEntry, burnOrder, grantTimeline } from './grants.js';
import { Money } from './money.js';

const m = (v: string | number) => new Money(v);
const spec = (grantId: string, entryId: number, amount: string, priority = 50, expiresAt: string | null = null, creditKind = 'purchase'): GrantSpec => ({
  grantId,
  entryId: BigInt(entryId),
  creditKind,
  amount: m(amount),
  priority,
  expiresAt: expiresAt ? new Date(expiresAt) : null,
});
const drawsOf = (a: Allocation) => (a.type === 'debit' ? a.draws.map((d) => [d.grantId, d.amount.toFixed()]) : []);

describe('burnOrder', () => {
  it('draws the lowest priority first, then the earliest expiry, never-expiring last, then the oldest', () => {
    const grants = [
      spec('late-old', 1, '1', 50, null),
      spec('soon', 2, '1', 50, '2027-01-01T00:00:00Z'),
      spec('sooner', 3, '1', 50, '2026-12-15T00:00:00Z'),
      spec('urgent', 4, '1', 10, null),
      spec('late-new', 5, '1', 50, null),
      spec('sooner-new', 6, '1', 50, '2026-12-15T00:00:00Z'),
    ];
    expect([...grants].sort(burnOrder).map((g) => g.grantId)).toEqual(['urgent', 'sooner', 'sooner-new', 'soon', 'late-old', 'late-new']);
  });
});

describe('GrantBook', () => {
  it('draws across grants in burn order and leaves the rest unfunded', () => {
    const book = new GrantBook([spec('a', 1, '5'), spec('b', 2, '3', 10)]);
    book.apply({ type: 'grant', grantId: 'a' });
    book.apply({ type: 'grant', grantId: 'b' });
    expect(drawsOf(book.apply({ type: 'debit', amount: m('4'), source: 'usage' }))).toEqual([
      ['b', '3'],
      ['a', '1'],
    ]);
    expect(drawsOf(book.apply({ type: 'debit', amount: m('4.5'), source: 'usage' }))).toEqual([
      ['a', '4'],
      [null, '0.5'],
    ]);
    expect(book.unfunded.toFixed()).toBe('0.5');
    expect(book.balance().toFixed()).toBe('-0.5');
    expect(book.status('a')).toBe('used');
  });

  it('covers unfunded usage with the next grant first: its remaining starts lower', () => {
    const book = new GrantBook([spec('a', 1, '1'), spec('b', 3, '10')]);
    book.apply({ type: 'grant', grantId: 'a' });
    book.apply({ type: 'debit', amount: m('1.25'), source: 'usage' });
    const created = book.apply({ type: 'grant', grantId: 'b' });
    expect(created).toEqual({ type: 'grant', grantId: 'b', amount: m('10'), cover: m('0.25') });
    expect(book.remaining('b').toFixed()).toBe('9.75');
    expect(book.unfunded.toFixed()).toBe('0');
  });

  it('never draws from an ended grant, and records what it had left', () => {
    const book = new GrantBook([spec('a', 1, '5', 0, '2026-12-02T00:00:00Z'), spec('b', 2, '5')]);
    book.apply({ type: 'grant', grantId: 'a' });
    book.apply({ type: 'grant', grantId: 'b' });
    book.apply({ type: 'debit', amount: m('1'), source: 'usage' });
    expect(book.apply({ type: 'end', grantId: 'a', kind: 'expiry', removed: m('4') })).toMatchObject({ left: m('4'), removed: m('4') });
    expect(drawsOf(book.apply({ type: 'debit', amount: m('2'), source: 'usage' }))).toEqual([['b', '2']]);
    expect(book.status('a')).toBe('expired');
    expect(book.balance().toFixed()).toBe('3');
  });
});

/** The independent model: a plain loop over the grants in burn order. */
interface ModelGrant {
  id: string;
  seq: number;
  amount: Money;
  priority: number;
  expires: number | null;
  remaining: Money;
  ended: boolean;
}

type Op =
  | { op: 'grant'; micros: number; priority: number; expires: number | null }
  | { op: 'usage'; micros: number }
  | { op: 'adjust'; micros: number }
  | { op: 'end'; pick: number; kind: 'expiry' | 'void' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('grant' as const), micros: fc.integer({ min: 1, max: 5_000_000 }), priority: fc.integer({ min: 0, max: 3 }).map((p) => p * 25), expires: fc.option(fc.integer({ min: 1, max: 5 })) }),
  fc.record({ op: fc.constant('usage' as const), micros: fc.integer({ min: 1, max: 3_000_000 }) }),
  fc.record({ op: fc.constant('adjust' as const), micros: fc.integer({ min: 1, max: 1_000_000 }) }),
  fc.record({ op: fc.constant('end' as const), pick: fc.nat(), kind: fc.constantFrom('expiry' as const, 'void' as const) }),
);

const micro = (n: number) => new Money(n).div(1_000_000);

describe('GrantBook against a plain loop over grants in burn order', () => {
  it('keeps balance = Σ remaining − unfunded, never draws from an ended grant, and allocates like the model', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const model: ModelGrant[] = [];
        let modelUnfunded = new Money(0);
        let balance = new Money(0);
        const specs: GrantSpec[] = [];
        // Grant specs must be known up front; the ops decide them, so collect them first.
        ops.forEach((o, i) => {
          if (o.op === 'grant') specs.push(spec(`g${i}`, i + 1, micro(o.micros).toFixed(), o.priority, o.expires === null ? null : new Date(Date.UTC(2027, 0, o.expires)).toISOString()));
        });
        const book = new GrantBook(specs);
        const ended = new Set<string>();
        ops.forEach((o, i) => {
          if (o.op === 'grant') {
            const amount = micro(o.micros);
            const cover = Money.min(amount, modelUnfunded);
            modelUnfunded = modelUnfunded.sub(cover);
            model.push({ id: `g${i}`, seq: i, amount, priority: o.priority, expires: o.expires, remaining: amount.sub(cover), ended: false });
            balance = balance.add(amount);
            book.apply({ type: 'grant', grantId: `g${i}` });
          } else if (o.op === 'usage' || o.op === 'adjust') {
            const amount = micro(o.micros);
            balance = balance.sub(amount);
            const order = model
              .filter((g) => !g.ended && g.remaining.gt(0))
              .sort((a, b) => a.priority - b.priority || (a.expires ?? Infinity) - (b.expires ?? Infinity) || a.seq - b.seq);
            const expected: [string | null, string][] = [];
            let left = amount;
            for (const g of order) {
              if (left.isZero()) break;
              const take = g.remaining.lt(left) ? g.remaining : left;
              g.remaining = g.remaining.sub(take);
              left = left.sub(take);
              expected.push([g.id, take.toFixed()]);
            }
            if (left.gt(0)) {
              modelUnfunded = modelUnfunded.add(left);
              expected.push([null, left.toFixed()]);
            }
            const allocation = book.apply({ type: 'debit', amount, source: o.op === 'usage' ? 'usage' : 'adjustment' });
            expect(drawsOf(allocation)).toEqual(expected);
            for (const [grantId] of expected) if (grantId) expect(ended.has(grantId)).toBe(false);
          } else {
            const open = model.filter((g) => !g.ended);
            if (!open.length) return;
            const g = open[o.pick % open.length];
            const removed = g.remaining;
            g.remaining = new Money(0);
            g.ended = true;
            ended.add(g.id);
            balance = balance.sub(removed);
            const allocation = book.apply({ type: 'end', grantId: g.id, kind: o.kind, removed });
            expect(allocation).toMatchObject({ left: removed, removed });
            expect(book.status(g.id)).toBe(o.kind === 'expiry' ? 'expired' : 'voided');
          }
          expect(book.balance().toFixed()).toBe(balance.toFixed());
          expect(book.totalRemaining().sub(book.unfunded).toFixed()).toBe(balance.toFixed());
          expect(book.unfunded.toFixed()).toBe(modelUnfunded.toFixed());
          for (const g of model) expect(book.remaining(g.id).toFixed()).toBe(g.remaining.toFixed());
          for (const g of model) expect(book.remaining(g.id).isNegative()).toBe(false);
        });
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * A ledger built from random operations, entry by entry (usage entries included), then read the
 * way the service reads it: structural entries only, the usage between them from balance_after.
 */
describe('grantTimeline', () => {
  type LedgerOp = Op | { op: 'time'; checkpoint: boolean };
  const ledgerOpArb: fc.Arbitrary<LedgerOp> = fc.oneof(opArb, opArb, fc.record({ op: fc.constant('time' as const), checkpoint: fc.boolean() }));

  it('gives the same remaining, unfunded and checkpoint states as folding every entry', () => {
    fc.assert(
      fc.property(fc.array(ledgerOpArb, { maxLength: 60 }), (ops) => {
        let entryId = 0n;
        let balance = new Money(0);
        let clock = Date.UTC(2026, 11, 1);
        const specs: GrantSpec[] = [];
        const structural: StructuralEntry[] = [];
        const endings: GrantEnding[] = [];
        const checkpoints: { id: string; at: Date; balance: Money }[] = [];
        const perEntry: { movement: Parameters<GrantBook['apply']>[0] }[] = [];
        const usageEntries: { entryId: bigint; amount: Money; balanceAfter: Money; createdAt: Date }[] = [];
        const expectedAt = new Map<string, { remaining: Map<string, string>; unfunded: string }>();
        const reference = () => {
          // A book that applies every movement so far: the expected state at a checkpoint.
          const book = new GrantBook(specs);
          for (const { movement } of perEntry) book.apply(movement);
          return { remaining: new Map(specs.filter((s) => book.has(s.grantId) && perEntry.some((p) => p.movement.type === 'grant' && p.movement.grantId === s.grantId)).map((s) => [s.grantId, book.remaining(s.grantId).toFixed()])), unfunded: book.unfunded.toFixed(), book };
        };
        for (const o of ops) {
          clock += 1000;
          if (o.op === 'time') {
            if (o.checkpoint) {
              const id = `c${checkpoints.length}`;
              checkpoints.push({ id, at: new Date(clock), balance });
              const { remaining, unfunded } = reference();
              expectedAt.set(id, { remaining, unfunded });
            }
            continue;
          }
          entryId += 1n;
          const createdAt = new Date(clock);
          if (o.op === 'grant') {
            const amount = micro(o.micros);
            const grantId = `g${entryId}`;
            specs.push({ grantId, entryId, creditKind: 'promotional', amount, priority: o.priority, expiresAt: null });
            balance = balance.add(amount);
            structural.push({ entryId, kind: 'credit', amount, balanceAfter: balance, reference: null, createdAt });
            perEntry.push({ movement: { type: 'grant', grantId } });
          } else if (o.op === 'usage') {
            const amount = micro(o.micros);
            balance = balance.sub(amount);
            usageEntries.push({ entryId, amount, balanceAfter: balance, createdAt });
            perEntry.push({ movement: { type: 'debit', amount, source: 'usage' } });
          } else if (o.op === 'adjust') {
            const amount = micro(o.micros);
            balance = balance.sub(amount);
            structural.push({ entryId, kind: 'adjustment', amount: amount.neg(), balanceAfter: balance, reference: null, createdAt });
            perEntry.push({ movement: { type: 'debit', amount, source: 'adjustment' } });
          } else {
            const { book } = reference();
            const open = specs.filter((s) => perEntry.some((p) => p.movement.type === 'grant' && p.movement.grantId === s.grantId) && !endings.some((e) => e.grantId === s.grantId));
            if (!open.length) continue;
            const grant = open[o.pick % open.length];
            const left = book.remaining(grant.grantId);
            if (left.gt(0)) {
              balance = balance.sub(left);
              structural.push({ entryId, kind: o.kind, amount: left.neg(), balanceAfter: balance, reference: grant.grantId, createdAt });
              endings.push({ grantId: grant.grantId, kind: o.kind, entryId, afterEntryId: null, balance: null, endedAt: createdAt });
            } else {
              entryId -= 1n; // nothing left: no entry, only the ending, after the latest entry
              endings.push({ grantId: grant.grantId, kind: o.kind, entryId: null, afterEntryId: entryId, balance, endedAt: createdAt });
            }
            perEntry.push({ movement: { type: 'end', grantId: grant.grantId, kind: o.kind, removed: left } });
          }
        }
        const timeline = grantTimeline({ grants: specs, entries: structural, endings, checkpoints, end: balance });
        expect(timeline.anomalies).toEqual([]);
        const book = new GrantBook(specs);
        for (const step of timeline.steps) {
          if (step.type === 'checkpoint') {
            const expected = expectedAt.get(step.id)!;
            expect(book.unfunded.toFixed()).toBe(expected.unfunded);
            for (const [grantId, remaining] of expected.remaining) expect(book.remaining(grantId).toFixed()).toBe(remaining);
          } else {
            book.apply(step);
          }
        }
        const { remaining, unfunded } = reference();
        expect(book.unfunded.toFixed()).toBe(unfunded);
        for (const [grantId, left] of remaining) expect(book.remaining(grantId).toFixed()).toBe(left);
        expect(book.balance().toFixed()).toBe(balance.toFixed());

        // Marks at every usage entry from the middle on: each gets a debit of exactly its own amount.
        const marked = usageEntries.slice(Math.floor(usageEntries.length / 2));
        if (marked.length) {
          const first = marked[0];
          const marks = [{ entryId: first.entryId - 1n, balanceAfter: first.balanceAfter.add(first.amount), createdAt: first.createdAt }, ...marked];
          const withMarks = grantTimeline({ grants: specs, entries: structural, endings, marks, end: balance });
          expect(withMarks.anomalies).toEqual([]);
          const debits = new Map(withMarks.steps.flatMap((step) => (step.type === 'debit' && step.entryId !== undefined ? [[step.entryId, step.amount.toFixed()]] : [])));
          for (const u of marked) expect(debits.get(u.entryId)).toBe(u.amount.toFixed());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports a credit entry with no grant, and the fold then disagrees with the balance', () => {
    const t = grantTimeline({
      grants: [],
      entries: [{ entryId: 1n, kind: 'credit', amount: m('5'), balanceAfter: m('5'), reference: null, createdAt: new Date() }],
      endings: [],
      end: m('5'),
    });
    expect(t.anomalies).toEqual(['credit entry 1 of 5 has no grant']);
    const book = new GrantBook([]);
    for (const step of t.steps) if (step.type !== 'checkpoint') book.apply(step);
    expect(book.balance().toFixed()).toBe('0');
  });
});
