/**
 * Issue 8: `custody export` and `custody verify-export` as child processes on a real
 * home with real media (simulated recorder, ffmpeg-made video, audio and photos, a
 * Chinese file name, a Chinese case name): two verified copies, a corrupted copy, a
 * destination that fills up mid-copy (a real 2 MiB tmpfs), a destination on the same
 * disk as the vault, a second export of the same case.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccessRequests, UsersService } from '../../src/access/index.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { simulateRecorder } from '../../src/devices/index.js';
import { canonicalLine } from '../../src/ledger/index.js';
import { contentKey } from '../../src/vault/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** As the archivist (issue 14: an export is made by a custody user, proven by their token). */
function custody(home: string, ...args: string[]): Promise<Run> {
  return custodyEnv(archivistToken ? { CUSTODY_TOKEN: archivistToken } : {}, home, ...args);
}

function custodyEnv(extra: Record<string, string>, home: string, ...args: string[]): Promise<Run> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUSTODY_'))), ...extra };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, '--log-level', 'warn', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const CASE_NUMBER = '厦执-2026-017';
const CASE_NAME = '李某某阻碍执法案';
const CHINESE_PHOTO = '现场照片_张伟.JPG';

interface CopyJson {
  copy: number;
  ok: boolean;
  dir: string | null;
  tagManifestSha256: string | null;
  error: { code: string; message: string } | null;
  warnings: string[];
  problems: Array<{ code: string }>;
}
interface ExportJson {
  ok: boolean;
  exportId: string;
  items: number;
  checkpointSize: number | null;
  copies: CopyJson[];
  seq: number;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

let root: string;
let home: string;
let itemIds: string[];
let archivistToken: string | null = null;

/** One station for the file: init, a recorder's footage ingested, a case linking all of it. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'custody-archive-'));
  home = join(root, 'home');
  await mkdir(home);
  const init = await custody(home, 'init');
  expect(init.code, init.stderr).toBe(0);
  const rec = join(root, 'rec');
  // Two clips padded to 1.2 MB each, so the payload (~2.5 MB) overflows a 2 MiB disk.
  const sim = await simulateRecorder({ out: rec, serial: 'ZF-0417', officer: '0417', officerName: '张伟', unit: '一中队', clips: 2, seconds: 2, clipBytes: 1_200_000, recordedAt: new Date('2026-11-20T01:00:00Z') });
  const photo = sim.files.find((f) => f.kind === 'photo')!;
  await rename(photo.path, join(photo.path, '..', CHINESE_PHOTO));
  const ing = await custody(home, 'ingest', rec, '--no-follow-up');
  expect(ing.code, ing.stderr).toBe(0);

  const catalog = Catalog.open(join(home, 'catalog.db'));
  try {
    itemIds = (catalog.db.prepare('SELECT id FROM evidence ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
    expect(itemIds.length).toBe(sim.files.length);
    // The case as retention's CaseService records it (migration 006, case.* entries).
    catalog.tx(() => {
      catalog.db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES ('case-1', ?, ?, '一中队', ?, 'user:1')").run(CASE_NUMBER, CASE_NAME, new Date().toISOString());
      catalog.ledger.append({ type: 'case.created', actor: 'user:1', subject: 'case-1', data: { number: CASE_NUMBER, name: CASE_NAME, unit: '一中队' } });
      for (const id of itemIds) {
        catalog.db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES ('case-1', ?, ?, 'user:1')").run(id, new Date().toISOString());
        catalog.ledger.append({ type: 'case.linked', actor: 'user:1', subject: id, data: { caseId: 'case-1', caseNumber: CASE_NUMBER } });
      }
      catalog.db.prepare("INSERT INTO holds (id, case_id, reason, placed_at, placed_by) VALUES ('hold-1', 'case-1', 'dispute', ?, 'user:1')").run(new Date().toISOString());
      catalog.ledger.append({ type: 'hold.placed', actor: 'user:1', subject: 'case-1', data: { reason: 'dispute' } });
    });
    // The archivist's access request for the case, approved by a supervisor (issue 14).
    const users = new UsersService(catalog);
    const archivist = users.create({ name: '王芳', role: 'archivist', unit: '一中队', tokenExpiresAt: null }, 'test');
    const leader = users.create({ name: '李科长', role: 'supervisor', unit: '一中队', tokenExpiresAt: null }, 'test').user;
    const access = new AccessRequests({ catalog, grantDefaultHours: 24, grantMaxHours: 168 });
    const req = access.create({ ...archivist.user }, { evidenceIds: itemIds, reason: '归档', caseId: 'case-1' });
    access.approve({ ...leader }, req.id);
    archivistToken = archivist.token;
  } finally {
    catalog.close();
  }
}, 240_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const mounted: string[] = [];
afterEach(() => {
  while (mounted.length) execFileSync('umount', [mounted.pop()!]);
});

async function exportTo(a: string, b: string, ...more: string[]): Promise<{ run: Run; r: ExportJson }> {
  const run = await custody(home, '--json', 'export', '--case', CASE_NUMBER, '--to', a, '--to', b, '--maker', '王芳', ...more);
  expect(run.stdout, run.stderr).not.toBe('');
  return { run, r: JSON.parse(run.stdout) as ExportJson };
}

describe('custody export (issue 8)', { timeout: 180_000 }, () => {
  it('writes two verified, labelled BagIt copies with the ledger excerpt and proofs; a corrupted byte fails only that copy', async () => {
    const out = await mkdtemp(join(tmpdir(), 'custody-archive-out-'));
    try {
      const { run, r } = await exportTo(join(out, 'A'), join(out, 'B'));
      expect(run.code, run.stderr).toBe(0);
      expect(r.ok).toBe(true);
      expect(r.items).toBe(itemIds.length);
      expect(r.copies.map((c) => [c.copy, c.ok, c.problems.length])).toEqual([
        [1, true, 0],
        [2, true, 0],
      ]);
      const [a, b] = r.copies.map((c) => c.dir!) as [string, string];

      for (const [n, dir] of [a, b].entries()) {
        const info = await readFile(join(dir, 'bag-info.txt'), 'utf8');
        expect(info).toContain('Source-Organization: 一中队\n');
        expect(info).toContain('Contact-Name: 王芳\n');
        expect(info).toMatch(/^Bagging-Date: \d{4}-\d\d-\d\d$/m);
        expect(info).toContain(`External-Identifier: ${CASE_NUMBER}\n`);
        expect(info).toContain(`External-Description: ${CASE_NAME}\n`);
        expect(info).toContain(`Bag-Count: ${n + 1} of 2\n`);
        expect(await readFile(join(dir, 'bagit.txt'), 'utf8')).toBe('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
        for (const f of ['manifest-sha256.txt', 'manifest-sha512.txt', 'tagmanifest-sha256.txt', 'index.html', 'label.html', 'README.txt', 'custody/ledger.jsonl', 'custody/checkpoint.txt', 'custody/proofs.json']) {
          expect(existsSync(join(dir, f)), f).toBe(true);
        }
        // Readable names: officer, recorder, recorded time (local), original name; Chinese kept.
        const names = await readdir(join(dir, 'data'));
        expect(names).toHaveLength(itemIds.length);
        expect(names.some((x) => x.startsWith('0417_ZF-0417_2026112') && x.endsWith(`_${CHINESE_PHOTO}`))).toBe(true);
        expect(names.filter((x) => /\.MP4$/.test(x))).toHaveLength(2);
        expect(names.filter((x) => /\.WAV$/.test(x))).toHaveLength(1);
        const label = await readFile(join(dir, 'label.html'), 'utf8');
        for (const s of [CASE_NAME, CASE_NUMBER, '一中队', '王芳', `Copy ${n + 1} of 2`, r.exportId]) expect(label).toContain(s);
        expect(await readFile(join(dir, 'README.txt'), 'utf8')).toContain('custody verify-export <this folder>');
        // The README's by-hand check works: every payload checksum with sha256sum.
        expect(execFileSync('sha256sum', ['-c', '--quiet', 'manifest-sha256.txt'], { cwd: dir, encoding: 'utf8' })).toBe('');
        const index = await readFile(join(dir, 'index.html'), 'utf8');
        expect(index).toContain(CHINESE_PHOTO);
        // Independent copies: every payload file its own inode, not a link to the vault.
        for (const x of names) expect((await stat(join(dir, 'data', x))).nlink).toBe(1);
        // The tag manifest digest the ledger records is the file's.
        expect(sha256(await readFile(join(dir, 'tagmanifest-sha256.txt')))).toBe(r.copies[n]!.tagManifestSha256);
      }

      // The excerpt is the ledger's entries, byte for byte as hashed.
      const catalog = Catalog.open(join(home, 'catalog.db'), { readonly: true });
      try {
        const lines = (await readFile(join(a, 'custody', 'ledger.jsonl'), 'utf8')).split('\n').filter(Boolean);
        const types = lines.map((l) => (JSON.parse(l) as { type: string }).type);
        expect(types.filter((t) => t === 'evidence.ingested')).toHaveLength(itemIds.length);
        expect(types).toEqual(expect.arrayContaining(['case.created', 'case.linked', 'hold.placed']));
        for (const l of lines) expect(l).toBe(canonicalLine(catalog.ledger.get((JSON.parse(l) as { seq: number }).seq)!));
        const created = catalog.ledger.get(r.seq)!;
        expect(created.type).toBe('export.created');
        expect(created.subject).toBe('case-1');
        expect(created.data).toMatchObject({
          exportId: r.exportId,
          held: true,
          ok: true,
          copies: [
            { copy: 1, ok: true, verified: true, tagManifestSha256: r.copies[0]!.tagManifestSha256 },
            { copy: 2, ok: true, verified: true, tagManifestSha256: r.copies[1]!.tagManifestSha256 },
          ],
        });
        // The vault object and the copy are different files.
        const vaultObj = join(home, 'vault', contentKey(created.data.items ? (created.data.items as Array<{ sha256: string }>)[0]!.sha256 : ''));
        expect((await stat(vaultObj)).ino).not.toBe((await stat(join(a, 'data', (await readdir(join(a, 'data')))[0]!))).ino);
      } finally {
        catalog.close();
      }

      // Offline verification of both; the checkpoint proves every excerpt entry.
      for (const dir of [a, b]) {
        const v = await custody('/nonexistent', '--json', 'verify-export', dir);
        expect(v.code, v.stdout + v.stderr).toBe(0);
        const rep = JSON.parse(v.stdout) as { ok: boolean; custody: { entries: number; proven: number; checkpoint: { key: string } | null } };
        expect(rep.ok).toBe(true);
        expect(rep.custody.proven).toBe(rep.custody.entries);
        expect(rep.custody.checkpoint?.key).toBe('bag');
      }

      // One byte of one footage file in copy B changes: B fails naming it, A still passes.
      const victim = join(b, 'data', (await readdir(join(b, 'data'))).find((x) => x.endsWith('.MP4'))!);
      const bytes = await readFile(victim);
      bytes[1000] = bytes[1000]! ^ 0xff;
      await writeFile(victim, bytes);
      const vb = await custody('/nonexistent', '--json', 'verify-export', b);
      expect(vb.code).toBe(1);
      const repB = JSON.parse(vb.stdout) as { ok: boolean; problems: Array<{ code: string; path?: string }> };
      expect(repB.problems.map((p) => p.code)).toContain('PAYLOAD_CHECKSUM_MISMATCH');
      expect(repB.problems.find((p) => p.code === 'PAYLOAD_CHECKSUM_MISMATCH')!.path).toBe(`data/${victim.split('/').pop()}`);
      const va = await custody('/nonexistent', 'verify-export', a);
      expect(va.code, va.stdout).toBe(0);

      // A changed ledger line is caught even with the tag manifest rewritten to match.
      const ledgerFile = join(a, 'custody', 'ledger.jsonl');
      const text = await readFile(ledgerFile, 'utf8');
      await writeFile(ledgerFile, text.replace('"officer":"0417"', '"officer":"0999"'));
      const tm = (await readFile(join(a, 'tagmanifest-sha256.txt'), 'utf8')).replace(/^[0-9a-f]{64}( {2}custody\/ledger\.jsonl)$/m, `${sha256(await readFile(ledgerFile))}$1`);
      await writeFile(join(a, 'tagmanifest-sha256.txt'), tm);
      const vt = await custody('/nonexistent', '--json', 'verify-export', a);
      expect(vt.code).toBe(1);
      expect((JSON.parse(vt.stdout) as { problems: Array<{ code: string }> }).problems.map((p) => p.code)).toContain('LEDGER_HASH_MISMATCH');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('a destination that fills up mid-copy fails that copy, leaves nothing there, and still reports the other truthfully', async () => {
    const out = await mkdtemp(join(tmpdir(), 'custody-archive-full-'));
    try {
      const small = join(out, 'small');
      await mkdir(small);
      // Needs root (CI and the workstation service run as root here): a real ENOSPC.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small]);
      mounted.push(small);
      const { run, r } = await exportTo(join(out, 'A'), small);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/export incomplete: copy 2/);
      expect(r.ok).toBe(false);
      expect(r.copies[0]).toMatchObject({ copy: 1, ok: true });
      expect(r.copies[1]).toMatchObject({ copy: 2, ok: false, dir: null, error: { code: 'EXPORT_DISK_FULL' } });
      expect(await readdir(small)).toEqual([]);
      const va = await custody('/nonexistent', 'verify-export', r.copies[0]!.dir!);
      expect(va.code, va.stdout).toBe(0);
      const catalog = Catalog.open(join(home, 'catalog.db'), { readonly: true });
      try {
        expect(catalog.ledger.get(r.seq)!.data).toMatchObject({ ok: false, copies: [{ copy: 1, ok: true }, { copy: 2, ok: false, error: 'EXPORT_DISK_FULL' }] });
      } finally {
        catalog.close();
      }
    } finally {
      while (mounted.length) execFileSync('umount', [mounted.pop()!]);
      await rm(out, { recursive: true, force: true });
    }
  });

  it('a destination on the vault disk works with a warning; a second export of the case makes new copies beside the first', async () => {
    // Under the station's own folder: the same filesystem as the vault.
    const a = join(root, 'same-disk-A');
    const b = join(root, 'same-disk-B');
    const first = await exportTo(a, b);
    expect(first.run.code, first.run.stderr).toBe(0);
    expect(first.r.copies[0]!.warnings.join(' ')).toMatch(/same disk as the vault/);
    expect(first.r.copies[1]!.warnings.join(' ')).toMatch(/same disk/);

    const second = await exportTo(a, b);
    expect(second.run.code, second.run.stderr).toBe(0);
    expect(second.r.exportId).not.toBe(first.r.exportId);
    expect((await readdir(a)).filter((n) => !n.startsWith('.')).sort()).toEqual([first.r.copies[0]!.dir!, second.r.copies[0]!.dir!].map((d) => d.split('/').pop()).sort());
    // The second copy carries the record of the first export of its case.
    const lines = (await readFile(join(second.r.copies[0]!.dir!, 'custody', 'ledger.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l) as { seq: number; type: string }).some((e) => e.type === 'export.created' && e.seq === first.r.seq)).toBe(true);
    for (const c of second.r.copies) {
      const v = await custody('/nonexistent', 'verify-export', c.dir!);
      expect(v.code, v.stdout).toBe(0);
    }
  });

  it('--iso makes an ISO 9660 image of each copy that holds a bag that verifies; without xorriso it says so and writes nothing', async () => {
    const out = await mkdtemp(join(tmpdir(), 'custody-archive-iso-'));
    try {
      // CI installs xorriso (.ci/run); fail loudly rather than skip when it is missing.
      expect(spawnSync('xorriso', ['-version']).status, 'xorriso is not installed').toBe(0);
      const { run, r } = await exportTo(join(out, 'A'), join(out, 'B'), '--iso');
      expect(run.code, run.stderr).toBe(0);
      for (const c of r.copies as Array<CopyJson & { iso: { path: string; size: number; sha256: string } | null }>) {
        expect(c.iso).not.toBeNull();
        expect(sha256(await readFile(c.iso!.path))).toBe(c.iso!.sha256);
        const x = join(out, `extract-${c.copy}`);
        execFileSync('xorriso', ['-osirrox', 'on', '-indev', c.iso!.path, '-extract', '/', x], { stdio: 'ignore' });
        expect((await readdir(join(x, 'data'))).some((n) => n.endsWith(CHINESE_PHOTO))).toBe(true);
        const v = await custody('/nonexistent', 'verify-export', x);
        expect(v.code, v.stdout).toBe(0);
      }

      const empty = join(out, 'no-tools');
      await mkdir(empty);
      const none = await custodyEnv({ PATH: empty, CUSTODY_TOKEN: archivistToken! }, home, 'export', '--case', CASE_NUMBER, '--to', join(out, 'C'), '--to', join(out, 'D'), '--iso');
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/--iso needs xorriso, which is not installed \(Debian\/Ubuntu: apt-get install xorriso\)/);
      expect(existsSync(join(out, 'C'))).toBe(false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('refuses overlapping destinations and a wrong number of them before writing anything', async () => {
    const out = await mkdtemp(join(tmpdir(), 'custody-archive-bad-'));
    try {
      const one = await custody(home, 'export', '--case', CASE_NUMBER, '--to', join(out, 'A'));
      expect(one.code).toBe(2);
      expect(one.stderr).toMatch(/2 destinations/);
      const nested = await custody(home, 'export', '--case', CASE_NUMBER, '--to', join(out, 'A'), '--to', join(out, 'A', 'inner'));
      expect(nested.code).toBe(2);
      expect(nested.stderr).toMatch(/overlap/);
      const unknown = await custody(home, 'export', '--case', 'no-such-case', '--to', join(out, 'A'), '--to', join(out, 'B'));
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toMatch(/case not found/);
      expect(existsSync(join(out, 'A'))).toBe(false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
