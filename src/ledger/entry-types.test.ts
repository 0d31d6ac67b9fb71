import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { LedgerError } from '../core/index.js';
import { LEDGER_ENTRY_TYPES, entryDataProblems } from './entry-types.js';
import './ledger.js';

function catalog(): Catalog {
  return Catalog.open(join(mkdtempSync(join(tmpdir(), 'custody-entry-types-')), 'catalog.db'));
}

describe('ledger entry-type registry (issue 13)', () => {
  it('refuses an unregistered type or a wrong shape before anything is hashed or stored', () => {
    const c = catalog();
    const unknown = (() => {
      try {
        c.ledger.append({ type: 'ingest.session-started', actor: 't' });
      } catch (e) {
        return e;
      }
    })();
    expect(unknown).toBeInstanceOf(LedgerError);
    expect(unknown).toMatchObject({ code: 'LEDGER_ENTRY_INVALID', message: expect.stringMatching(/not a registered ledger entry type/) });
    expect(() => c.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'e1', data: { sha256: 'ab', size: '12' } })).toThrow(/data\.size/);
    expect(() => c.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'e1', data: { size: 12 } })).toThrow(/data\.sha256/);
    expect(() => c.ledger.append({ type: 'access.viewed', actor: 'user:1', subject: 'e1', data: { sha256: 'ab', size: 1, range: { start: 0 }, bytes: 1, grant: 'r', ip: '::1' } })).toThrow(/data\.range\.end/);
    expect(c.ledger.count()).toBe(0);
    // A well-formed one goes in.
    c.ledger.append({ type: 'user.token-issued', actor: 'cli:root', subject: 'u1', data: { tokenExpiresAt: null } });
    expect(c.ledger.count()).toBe(1);
    c.close();
  });

  it('checks the data as it will be hashed: undefined fields are dropped first', () => {
    expect(entryDataProblems('case.linked', JSON.parse(JSON.stringify({ caseId: 'c1', purgeAnnouncementWithdrawn: undefined })))).toEqual([]);
    expect(entryDataProblems('case.linked', { caseNumber: 'x' })).toEqual([expect.stringMatching(/^data\.caseId: /)]);
    expect(entryDataProblems('case.linked', { caseId: 7 })).toEqual([expect.stringMatching(/^data\.caseId: .*expected string/)]);
  });

  it("docs/ledger.md's entry-type table lists exactly the registered types", () => {
    const text = readFileSync(new URL('../../docs/ledger.md', import.meta.url), 'utf8');
    const start = text.indexOf('### Entry types');
    const section = text.slice(start, text.indexOf('\n#', start + 5));
    const documented = [...section.matchAll(/^\| (`[^|]+`(?:, `[^|]+`)*) \|/gmu)].flatMap((m) => [...m[1]!.matchAll(/`([^`]+)`/gu)].map((x) => x[1]!));
    expect(documented.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual(Object.keys(LEDGER_ENTRY_TYPES).sort());
  });
});
