import type { Command } from 'commander';
import { actorOf } from '../../access/index.js';
import { FLAG_RULES, FLAG_STATES, localText, type Flag, type FlagRule, type FlagState } from '../../compliance/index.js';
import { UsageError } from '../../core/index.js';
import { actingUser, asUser, globals, output, printable, withRuntime, type ActingOptions } from '../context.js';

function text(list: Flag[], tz: string): string {
  if (list.length === 0) return 'no flags';
  return list
    .map((f) =>
      [
        `${f.id}  ${f.rule}  ${f.state.toUpperCase()}  raised ${localText(f.raisedAt, tz)}, due ${localText(f.dueBy, tz)}`,
        `    ${printable(f.summary)}`,
        `    officer ${printable(f.officer ?? '-')}, recorder ${printable(f.recorderSerial ?? '-')}, unit ${printable(f.unit ?? '-')}`,
        ...(f.state === 'resolved' ? [`    resolved ${localText(f.resolvedAt!, tz)}, approved by ${printable(f.approvedBy ?? '-')}: ${printable(f.resolution ?? '')}`] : []),
      ].join('\n'),
    )
    .join('\n');
}

export async function flagsListCommand(opts: { rule?: string; unit?: string; officer?: string; recorder?: string; state?: string; limit: string }, c: Command): Promise<void> {
  const g = globals(c);
  if (opts.rule !== undefined && !(FLAG_RULES as readonly string[]).includes(opts.rule)) throw new UsageError(`--rule must be one of ${FLAG_RULES.join(', ')}`);
  if (opts.state !== undefined && ![...FLAG_STATES, 'unresolved'].includes(opts.state)) throw new UsageError(`--state must be one of ${FLAG_STATES.join(', ')}, unresolved`);
  await withRuntime(g, async (rt) => {
    const { flags } = await rt.station.compliance();
    const list = flags.list(
      { rule: opts.rule as FlagRule | undefined, unit: opts.unit, officer: opts.officer, recorder: opts.recorder, state: opts.state as FlagState | 'unresolved' | undefined },
      { limit: Math.max(1, Number(opts.limit) || 500) },
    );
    output(g, list, text(list, rt.config.timezone));
  });
}

/**
 * `custody flags resolve ID --reason T`: the approver is the custody user whose own
 * token the command presents (CUSTODY_TOKEN or --token-file), never a typed id (issue 14).
 */
export async function flagsResolveCommand(id: string, opts: { reason: string } & ActingOptions, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const p = await actingUser(rt, opts, 'flags resolve');
    const { flags } = await rt.station.compliance();
    const f = await asUser(rt, p, 'flags resolve', () =>
      flags.resolve(id, { reason: opts.reason, approver: { id: p.id, role: p.role, unit: p.unit, revoked: false }, actor: actorOf(p) }),
    );
    output(g, f, `resolved ${f.id} (${f.rule}), approved by ${printable(p.name)}`);
  });
}

export async function flagsScanCommand(opts: { full?: boolean }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const { rules } = await rt.station.compliance();
    const r = rules.scan({ full: opts.full === true });
    output(
      g,
      { raised: r.raised, escalated: r.escalated.map((f) => f.id) },
      `${r.raised.length} flag(s) raised, ${r.escalated.length} escalated${r.raised.length ? `\n${text(r.raised, rt.config.timezone)}` : ''}`,
    );
  });
}
