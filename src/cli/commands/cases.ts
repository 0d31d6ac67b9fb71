import type { Command } from 'commander';
import { AccessDeniedError, actorOf, can, HiddenError, inScope, type Principal } from '../../access/index.js';
import { CustodyError, UsageError } from '../../core/index.js';
import type { Case, Hold } from '../../retention/index.js';
import type { RetentionServices } from '../../station.js';
import type { Runtime } from '../context.js';
import { actingUser, asUser, globals, output, printable, withRuntime, type ActingOptions } from '../context.js';

/** Bad input is a usage error (exit 2). */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CustodyError && e.code === 'INVALID_INPUT') throw new UsageError(e.message);
    throw e;
  }
}

function holdLine(h: Hold): string {
  const why = h.reasonText ? `${h.reason}: ${printable(h.reasonText)}` : h.reason;
  const state =
    h.state === 'released'
      ? `released ${h.releasedAt} by ${printable(h.releasedBy ?? '')}`
      : h.state === 'release-requested'
        ? `release asked ${h.releaseRequestedAt} by ${printable(h.releaseRequestedBy ?? '')} (${printable(h.releaseReason ?? '')}); still holding`
        : 'active';
  return `  hold ${h.id}  ${why}  placed ${h.placedAt} by ${printable(h.placedBy)}  ${state}`;
}

function caseTable(list: Case[]): string {
  if (list.length === 0) return 'No cases. Create one: custody cases create --number N --name NAME [--unit U]';
  const rows = list.map((c) => [printable(c.number), printable(c.name), printable(c.unit ?? '(all units)'), c.createdAt.slice(0, 10), c.id]);
  const head = ['number', 'name', 'unit', 'created', 'id'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** With S3 Object Lock on, held items' objects carry a legal hold in the store too. */
async function syncLegalHolds(rt: Runtime, evidenceIds: readonly string[]): Promise<void> {
  await (await rt.station.retention()).objectLock?.holdsChanged(evidenceIds);
}

/**
 * Cases are created, linked and held in the name of the OS account (`cli:<os-user>`);
 * a person the ledger is to name does it on the API as a custody user.
 */
export async function casesCreateCommand(opts: { number: string; name: string; unit?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const { cases } = await rt.station.retention();
    const c = asUsage(() => cases.create({ number: opts.number, name: opts.name, unit: opts.unit ?? null }, rt.station.actor));
    output(g, c, `Case ${c.number} (${c.name}) created: ${c.id}`);
  });
}

export async function casesListCommand(opts: { unit?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const list = (await rt.station.retention()).cases.list(opts.unit ?? null);
    output(g, { cases: list }, caseTable(list));
  });
}

export async function casesShowCommand(ref: string, _opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const { cases: svc, view } = await rt.station.retention();
    const c = svc.find(ref);
    const evidence = svc.evidenceOf(c.id).map((id) => ({ id, ...view.of(id)! }));
    const holds = svc.holdsOf(c.id);
    output(
      g,
      { ...c, evidence, holds },
      [
        `Case ${printable(c.number)}: ${printable(c.name)}${c.unit ? ` (${printable(c.unit)})` : ''}  id ${c.id}`,
        `Evidence (${evidence.length}):`,
        ...evidence.map((e) => `  ${e.id}  ${e.retention.state}  retention date ${e.retentionDate}`),
        `Holds (${holds.length}):`,
        ...holds.map(holdLine),
      ].join('\n'),
    );
  });
}

export async function casesLinkCommand(ref: string, ids: string[], _opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.retention()).cases;
    const c = svc.find(ref);
    const linked = svc.link(c.id, ids, rt.station.actor);
    if (svc.holdsOf(c.id).some((h) => h.state !== 'released')) await syncLegalHolds(rt, linked);
    output(g, { caseId: c.id, linked }, `${linked.length} item(s) linked to case ${c.number}${linked.length < ids.length ? ` (${ids.length - linked.length} already linked)` : ''}.`);
  });
}

export async function casesHoldCommand(ref: string, opts: { reason: string; text?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.retention()).cases;
    const c = svc.find(ref);
    const h = asUsage(() => svc.placeHold(c.id, { reason: opts.reason, text: opts.text ?? null }, rt.station.actor));
    await syncLegalHolds(rt, svc.evidenceOf(c.id));
    output(g, h, `Hold ${h.id} placed on case ${c.number} (${h.reason}): ${svc.evidenceOf(c.id).length} item(s) protected.`);
  });
}

/**
 * A hold the user may ask to release or release, as on the API: the permission, the
 * case in their scope (else it answers as missing), and no item of another unit that
 * the release would free.
 */
function holdFor(rt: Runtime, svc: RetentionServices['cases'], p: Principal, holdId: string, permission: 'holds.manage' | 'holds.release'): Hold {
  if (!can(p, permission)) throw new AccessDeniedError('FORBIDDEN', `role ${p.role} may not do this (needs ${permission})`, holdId);
  const h = svc.requireHold(holdId);
  const c = svc.require(h.caseId);
  if (!inScope(p, c.unit)) throw new HiddenError('hold', holdId);
  if (p.unit !== null) {
    const units = rt.catalog.db.prepare<[string], { unit: string | null }>('SELECT e.unit FROM case_evidence ce JOIN evidence e ON e.id = ce.evidence_id WHERE ce.case_id = ?').all(c.id);
    if (units.some((u) => !inScope(p, u.unit))) {
      throw new AccessDeniedError('FORBIDDEN', `case ${c.number} also holds items outside your unit: its holds are released by a bureau-wide supervisor`, c.id);
    }
  }
  return h;
}

/** Asked by a custody user (their own token), so the approval can be checked to be someone else's. */
export async function casesReleaseRequestCommand(holdId: string, opts: { reason: string } & ActingOptions, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const p = await actingUser(rt, opts, 'cases release-request');
    const svc = (await rt.station.retention()).cases;
    const h = await asUser(rt, p, 'cases release-request', () => {
      holdFor(rt, svc, p, holdId, 'holds.manage');
      return asUsage(() => svc.requestRelease(holdId, opts.reason, actorOf(p)));
    });
    output(g, h, `Release of hold ${h.id} asked by ${printable(p.name)}; it holds until another supervisor approves with their own token (custody cases release-approve ${h.id}).`);
  });
}

/** The second person (issue 14): a custody user identified by their own token, never a typed name. */
export async function casesReleaseApproveCommand(holdId: string, opts: ActingOptions, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const p = await actingUser(rt, opts, 'cases release-approve');
    const svc = (await rt.station.retention()).cases;
    const h = await asUser(rt, p, 'cases release-approve', () => {
      holdFor(rt, svc, p, holdId, 'holds.release');
      return svc.approveRelease(holdId, actorOf(p));
    });
    await syncLegalHolds(rt, svc.evidenceOf(h.caseId));
    output(g, h, `Hold ${h.id} released, approved by ${printable(p.name)}.`);
  });
}
