import type { Command } from 'commander';
import { UsersService } from '../../access/index.js';
import { FLAG_RULES, FLAG_STATES, createCompliance, localText, type Flag, type FlagRule, type FlagState } from '../../compliance/index.js';
import { NotFoundError, UsageError } from '../../core/errors.js';
import { globals, output, withRuntime } from '../context.js';
import { cliActor } from './ingest.js';

function text(list: Flag[], tz: string): string {
  if (list.length === 0) return 'no flags';
  return list
    .map((f) =>
      [
        `${f.id}  ${f.rule}  ${f.state.toUpperCase()}  raised ${localText(f.raisedAt, tz)}, due ${localText(f.dueBy, tz)}`,
        `    ${f.summary}`,
        `    officer ${f.officer ?? '-'}, recorder ${f.recorderSerial ?? '-'}, unit ${f.unit ?? '-'}`,
        ...(f.state === 'resolved' ? [`    resolved ${localText(f.resolvedAt!, tz)}, approved by ${f.approvedBy}: ${f.resolution}`] : []),
      ].join('\n'),
    )
    .join('\n');
}

export async function flagsListCommand(opts: { rule?: string; unit?: string; officer?: string; recorder?: string; state?: string; limit: string }, c: Command): Promise<void> {
  const g = globals(c);
  if (opts.rule !== undefined && !(FLAG_RULES as readonly string[]).includes(opts.rule)) throw new UsageError(`--rule must be one of ${FLAG_RULES.join(', ')}`);
  if (opts.state !== undefined && ![...FLAG_STATES, 'unresolved'].includes(opts.state)) throw new UsageError(`--state must be one of ${FLAG_STATES.join(', ')}, unresolved`);
  await withRuntime(g, async (rt) => {
    const { flags } = createCompliance({ catalog: rt.catalog, config: rt.config, actor: cliActor() });
    const list = flags.list(
      { rule: opts.rule as FlagRule | undefined, unit: opts.unit, officer: opts.officer, recorder: opts.recorder, state: opts.state as FlagState | 'unresolved' | undefined },
      { limit: Math.max(1, Number(opts.limit) || 500) },
    );
    output(g, list, text(list, rt.config.timezone));
  });
}

export async function flagsResolveCommand(id: string, opts: { reason: string; approver: string }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const u = new UsersService(rt.catalog).get(opts.approver);
    if (!u) throw new NotFoundError('user', opts.approver);
    const { flags } = createCompliance({ catalog: rt.catalog, config: rt.config, actor: cliActor() });
    const f = flags.resolve(id, { reason: opts.reason, approver: { id: u.id, role: u.role, unit: u.unit, revoked: u.revokedAt !== null }, actor: cliActor() });
    output(g, f, `resolved ${f.id} (${f.rule}), approved by ${u.name}`);
  });
}

export async function flagsScanCommand(opts: { full?: boolean }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const { rules } = createCompliance({ catalog: rt.catalog, config: rt.config, actor: cliActor() });
    const r = rules.scan({ full: opts.full === true });
    output(
      g,
      { raised: r.raised, escalated: r.escalated.map((f) => f.id) },
      `${r.raised.length} flag(s) raised, ${r.escalated.length} escalated${r.raised.length ? `\n${text(r.raised, rt.config.timezone)}` : ''}`,
    );
  });
}
