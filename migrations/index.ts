// Every migration, in order. Listed explicitly so the same array works from dist/ and under jest.
import { InitialSchema1795000000000 } from './1795000000000-InitialSchema.js';
import { SeedLaunchCatalog1795000000001 } from './1795000000001-SeedLaunchCatalog.js';
import { Invoices1795000000002 } from './1795000000002-Invoices.js';
import { ExportOrderIndex1795000000003 } from './1795000000003-ExportOrderIndex.js';
import { MonthlyRollups1795000000004 } from './1795000000004-MonthlyRollups.js';
import { InvoiceUsageSeen1795000001000 } from './1795000001000-InvoiceUsageSeen.js';
import { PortalSessions1795000004000 } from './1795000004000-PortalSessions.js';
import { CreditGrants1795000010000 } from './1795000010000-CreditGrants.js';
import { StructuralLedgerIndex1795000010001 } from './1795000010001-StructuralLedgerIndex.js';
import { CreditLiability1795000010002 } from './1795000010002-CreditLiability.js';
import { SpendHolds1795000011000 } from './1795000011000-SpendHolds.js';
import { InvoiceExpiredVoided1795000011001 } from './1795000011001-InvoiceExpiredVoided.js';
import { Webhooks1795000012000 } from './1795000012000-Webhooks.js';
import { HoldDeclinedEvents1795000012001 } from './1795000012001-HoldDeclinedEvents.js';
import { ActiveHolds1795000014000 } from './1795000014000-ActiveHolds.js';
import { PartitionUsageEvents1795000015000 } from './1795000015000-PartitionUsageEvents.js';
import { PartialIdempotencyIndex1795000015001 } from './1795000015001-PartialIdempotencyIndex.js';
import { IndexProbedHolds1795000016000 } from './1795000016000-IndexProbedHolds.js';
import { DropUnusedIndexes1795000016001 } from './1795000016001-DropUnusedIndexes.js';
import { GenericPlanHolds1795000017000 } from './1795000017000-GenericPlanHolds.js';

export const migrations = [
  InitialSchema1795000000000,
  SeedLaunchCatalog1795000000001,
  Invoices1795000000002,
  ExportOrderIndex1795000000003,
  MonthlyRollups1795000000004,
  InvoiceUsageSeen1795000001000,
  PortalSessions1795000004000,
  CreditGrants1795000010000,
  StructuralLedgerIndex1795000010001,
  CreditLiability1795000010002,
  SpendHolds1795000011000,
  InvoiceExpiredVoided1795000011001,
  Webhooks1795000012000,
  HoldDeclinedEvents1795000012001,
  ActiveHolds1795000014000,
  PartitionUsageEvents1795000015000,
  PartialIdempotencyIndex1795000015001,
  IndexProbedHolds1795000016000,
  DropUnusedIndexes1795000016001,
  GenericPlanHolds1795000017000,
];
