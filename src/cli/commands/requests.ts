import type { Command } from 'commander';
import { HiddenError, inScope, InvalidInputError, type AccessRequest, type Principal } from '../../access/index.js';
import { CustodyError, UsageError } from '../../core/index.js';
import type { Runtime } from '../context.js';
import { actingUser, asUser, globals, output, printable, withRuntime, type ActingOptions } from '../context.js';

/**
 * `custody requests`: access requests from the command line (Art. 13), under the API's
 * rules (docs/api.md#access-requests). Every subcommand acts as the custody user whose
 * own token it presents (CUSTODY_TOKEN or --token-file), never as a typed name: one
 * asks, someone else — a supervisor or admin whose unit covers the items — approves or
 * denies, and a grant is revoked by its approver or an admin. Refusals are ledgered
 * (`access.denied`, route `custody requests …`) like the API's; what users wrote is
 * printed with control characters escaped.
 */

const HOUR_MS = 3_600_000;

function positiveHours(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number of hours, at least 1`);
  return n;
}

function when(iso: string | null): string {
  return iso === null ? '-' : iso.replace(/\.\d{3}Z$/, 'Z');
}

function person(x: { id: string; name: string } | null): string {
  return x === null ? '-' : `${printable(x.name)} (${x.id})`;
}

/** One request, as lines: who asked, why, its state and who decided. */
function detail(r: AccessRequest): string {
  const lines = [
    `Request ${r.id}  ${r.status.toUpperCase()}`,
    `  asked    ${when(r.createdAt)} by ${person(r.requester)}${r.requestedHours !== null ? `, for ${r.requestedHours} h` : ''}`,
    `  reason   ${printable(r.reason)}`,
    `  items    ${r.evidenceIds.length}: ${r.evidenceIds.join(' ')}`,
  ];
  if (r.decidedBy) lines.push(`  ${r.status === 'denied' ? 'denied  ' : 'approved'} ${when(r.decidedAt)} by ${person(r.decidedBy)}${r.decisionNote ? `: ${printable(r.decisionNote)}` : ''}`);
  if (r.status === 'approved') lines.push(`  grant    until ${when(r.expiresAt)}`);
  if (r.status === 'expired') lines.push(`  expired  ${when(r.expiresAt)}`);
  if (r.status === 'revoked') lines.push(`  revoked  ${when(r.revokedAt)} by ${person(r.revokedBy)}${r.revocationNote ? `: ${printable(r.revocationNote)}` : ''}`);
  return lines.join('\n');
}

function table(list: AccessRequest[], empty: string): string {
  if (list.length === 0) return empty;
  const rows = list.map((r) => [
    r.id,
    r.status,
    printable(r.requester.name),
    when(r.createdAt),
    String(r.evidenceIds.length),
    r.status === 'approved' ? when(r.expiresAt) : '-',
    printable(r.reason.length > 60 ? `${r.reason.slice(0, 59)}…` : r.reason),
  ]);
  const head = ['id', 'status', 'requester', 'asked', 'items', 'until', 'reason'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [head, ...rows].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** Run one subcommand as the token's user, its refusals ledgered; bad input is a usage error (exit 2). */
async function acting<T>(cmd: Command, opts: ActingOptions, name: string, fn: (rt: Runtime, p: Principal) => Promise<T> | T, print: (r: T) => string): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const command = `requests ${name}`;
    const p = await actingUser(rt, opts, command);
    let r: T;
    try {
      r = await asUser(rt, p, command, () => fn(rt, p));
    } catch (e) {
      if (e instanceof CustodyError && e.code === 'INVALID_INPUT') throw new UsageError(e.message);
      throw e;
    }
    output(g, r, print(r));
  });
}

async function requestsOf(rt: Runtime) {
  return (await rt.station.access()).requests;
}

export async function requestsListCommand(opts: { toDecide?: boolean; limit: string } & ActingOptions, cmd: Command): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
  await acting(
    cmd,
    opts,
    'list',
    async (rt, p) => {
      const requests = await requestsOf(rt);
      return opts.toDecide ? requests.listToDecide(p, null, limit) : requests.listMine(p, null, limit);
    },
    (list) => table(list, opts.toDecide ? 'Nothing to decide.' : 'You have asked for nothing. Ask: custody requests ask --item ID… | --case CASE --reason TEXT'),
  );
}

export async function requestsShowCommand(id: string, opts: ActingOptions, cmd: Command): Promise<void> {
  await acting(
    cmd,
    opts,
    'show',
    async (rt, p) => (await requestsOf(rt)).get(p, id),
    detail,
  );
}

/**
 * Ask to view items (each in the asker's scope) or a case (every item of it in the
 * asker's scope, as `POST /access-requests {caseId}`), with a reason and optionally for
 * how long.
 */
export async function requestsAskCommand(
  opts: { item: string[]; case?: string; reason: string; hours?: string } & ActingOptions,
  cmd: Command,
): Promise<void> {
  if ((opts.item.length > 0) === (opts.case !== undefined)) throw new UsageError('give either --item (one or more) or --case');
  const hours = opts.hours === undefined ? undefined : positiveHours('--hours', opts.hours);
  await acting(
    cmd,
    opts,
    'ask',
    async (rt, p) => {
      const requests = await requestsOf(rt);
      let ids = opts.item;
      let caseId: string | undefined;
      if (opts.case !== undefined) {
        // A case as this user sees it: another unit's answers like a missing one, by id
        // or by number; of a visible case only the items in their scope are asked for.
        const { cases } = await rt.station.retention();
        const byId = cases.get(opts.case);
        if (byId && !inScope(p, byId.unit)) throw new HiddenError('case', opts.case);
        const c = byId ?? cases.find(opts.case, p.unit);
        const source = await rt.station.caseSource();
        ids = cases.evidenceOf(c.id).filter((e) => {
          const unit = source.unitOf(e);
          return unit !== undefined && inScope(p, unit);
        });
        if (ids.length === 0) throw new InvalidInputError(`case ${c.number} has no evidence in your scope`);
        caseId = c.id;
      }
      return requests.create(p, { evidenceIds: ids, reason: opts.reason, caseId, hours });
    },
    (r) => `${detail(r)}\nAsked. A supervisor or admin other than you approves it: custody requests approve ${r.id}`,
  );
}

export async function requestsApproveCommand(id: string, opts: { hours?: string; until?: string; note?: string } & ActingOptions, cmd: Command): Promise<void> {
  if (opts.hours !== undefined && opts.until !== undefined) throw new UsageError('give --hours or --until, not both');
  const hours = opts.hours === undefined ? undefined : positiveHours('--hours', opts.hours);
  let until: Date | undefined;
  if (opts.until !== undefined) {
    const t = Date.parse(opts.until);
    if (!/^\d{4}-\d\d-\d\dT/.test(opts.until) || Number.isNaN(t)) throw new UsageError('--until must be a date-time with its zone, e.g. 2026-12-03T18:00:00+08:00');
    until = new Date(t);
  }
  await acting(
    cmd,
    opts,
    'approve',
    async (rt, p) => {
      const requests = await requestsOf(rt);
      const expiresAt = until ?? (hours !== undefined ? new Date(rt.catalog.clock.now().getTime() + hours * HOUR_MS) : undefined);
      return requests.approve(p, id, { ...(expiresAt ? { expiresAt } : {}), ...(opts.note !== undefined ? { note: opts.note } : {}) });
    },
    (r) => `${detail(r)}\nApproved by you.`,
  );
}

export async function requestsDenyCommand(id: string, opts: { note?: string } & ActingOptions, cmd: Command): Promise<void> {
  await acting(
    cmd,
    opts,
    'deny',
    async (rt, p) => (await requestsOf(rt)).deny(p, id, opts.note !== undefined ? { note: opts.note } : {}),
    (r) => `${detail(r)}\nDenied by you.`,
  );
}

export async function requestsRevokeCommand(id: string, opts: { note?: string } & ActingOptions, cmd: Command): Promise<void> {
  await acting(
    cmd,
    opts,
    'revoke',
    async (rt, p) => (await requestsOf(rt)).revoke(p, id, opts.note !== undefined ? { note: opts.note } : {}),
    (r) => `${detail(r)}\nThe grant has ended.`,
  );
}
