// Every migration, in order. Listed explicitly so the same array works from dist/ and under jest.
import { InitialSchema1795000000000 } from './1795000000000-InitialSchema.js';
import { SeedLaunchCatalog1795000000001 } from './1795000000001-SeedLaunchCatalog.js';
import { Invoices1795000000002 } from './1795000000002-Invoices.js';
import { ExportOrderIndex1795000000003 } from './1795000000003-ExportOrderIndex.js';
import { MonthlyRollups1795000000004 } from './1795000000004-MonthlyRollups.js';
import { PortalSessions1795000004000 } from './1795000004000-PortalSessions.js';

export const migrations = [InitialSchema1795000000000, SeedLaunchCatalog1795000000001, Invoices1795000000002, ExportOrderIndex1795000000003, MonthlyRollups1795000000004, PortalSessions1795000004000];
