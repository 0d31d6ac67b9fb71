import { m001 } from './001-ledger.js';
import { m002 } from './002-evidence.js';
import { m003 } from './003-jobs.js';
import { m004 } from './004-devices.js';
import { m005 } from './005-access.js';
import { m006 } from './006-cases.js';
import { m007 } from './007-compliance.js';
import { m008 } from './008-evidence-flags-index.js';
import { m009 } from './009-dock-undock.js';
import { m010 } from './010-flag-evidence.js';
import { m011 } from './011-usb-devices.js';
import { m012 } from './012-case-numbers-per-unit.js';
import { m013 } from './013-sessions.js';
import { m014 } from './014-evidence-proxies.js';
import { m015 } from './015-dock-reason-details.js';
import { m016 } from './016-export-jobs.js';
import { m017 } from './017-evidence-unwiped.js';
import { m018 } from './018-ledger-hash-unindexed.js';
import { m019 } from './019-password-must-change.js';
import { m020 } from './020-export-job-owner.js';
import { m021 } from './021-evidence-playback-input.js';
import type { Migration } from './types.js';

export type { Migration };

/** Every migration, in order. Append only; never edit one that has shipped. */
export const migrations: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011, m012, m013, m014, m015, m016, m017, m018, m019, m020, m021];

for (const [i, m] of migrations.entries()) {
  if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
}
