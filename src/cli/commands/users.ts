import type { Command } from 'commander';
import { generatePassword, hashPassword, InvalidInputError, passwordProblems, type User, validateNewUser } from '../../access/index.js';
import { UsageError } from '../../core/index.js';
import { cliActor } from '../actor.js';
import { EXIT_PROBLEM, globals, output, printable, withRuntime } from '../context.js';

const DAY_MS = 86_400_000;

function expiryOption(raw: string | undefined, defaultDays: number, now: Date): Date | null {
  const days = raw === undefined ? defaultDays : Number(raw);
  if (raw !== undefined && (!/^\d{1,4}$/.test(raw) || days > 3650)) throw new UsageError(`--expires-days must be 0..3650 (0: never), got "${raw}"`);
  return days === 0 ? null : new Date(now.getTime() + days * DAY_MS);
}

/** The CLI reports bad input as a usage error (exit 2). */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InvalidInputError) throw new UsageError(e.message);
    throw e;
  }
}

function publicUser(u: User): Record<string, unknown> {
  return {
    id: u.id,
    name: u.name,
    role: u.role,
    unit: u.unit,
    createdAt: u.createdAt,
    createdBy: u.createdBy,
    tokenIssuedAt: u.tokenIssuedAt,
    tokenExpiresAt: u.tokenExpiresAt,
    revokedAt: u.revokedAt,
    hasPassword: u.hasPassword,
    passwordSetAt: u.passwordSetAt,
  };
}

function table(users: User[]): string {
  if (users.length === 0) return 'No users. Add one: custody users add --name NAME --role ROLE [--unit UNIT]';
  const rows = users.map((u) => [u.id, printable(u.name), u.role, printable(u.unit ?? '(all units)'), u.tokenExpiresAt?.slice(0, 10) ?? 'never', u.revokedAt ? `revoked ${u.revokedAt.slice(0, 10)}` : 'active']);
  const head = ['id', 'name', 'role', 'unit', 'token expires', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export async function usersAddCommand(opts: { name: string; role: string; unit?: string; expiresDays?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const now = rt.catalog.clock.now();
    const tokenExpiresAt = expiryOption(opts.expiresDays, rt.config.api.tokenTtlDays, now);
    const input = { name: opts.name, role: opts.role, unit: opts.unit ?? null, tokenExpiresAt };
    asUsage(() => validateNewUser(input, now));
    const { user, token } = (await rt.station.access()).users.create(input, cliActor());
    output(
      g,
      { id: user.id, token },
      [
        `User ${user.id} (${printable(user.name)}, ${user.role}${user.unit ? `, unit ${printable(user.unit)}` : ''}) created.`,
        `Token (shown only now; send it as "Authorization: Bearer <token>"):`,
        `  ${token}`,
        user.tokenExpiresAt ? `It expires at ${user.tokenExpiresAt}.` : 'It does not expire.',
      ].join('\n'),
    );
  });
}

export async function usersListCommand(opts: { all?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const list = (await rt.station.access()).users.list({ includeRevoked: opts.all ?? false });
    output(g, { users: list.map(publicUser) }, table(list));
  });
}

export async function usersRevokeCommand(id: string, _opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const { user, changed } = (await rt.station.access()).users.revoke(id, cliActor());
    output(g, { id: user.id, revoked: true, revokedAt: user.revokedAt, changed }, changed ? `User ${user.id} (${printable(user.name)}) revoked.` : `User ${user.id} was already revoked on ${user.revokedAt}.`);
  });
}

/** `custody users role ID --role R [--unit U]`: what a user may do; ledgered as user.role-changed (issue 20). */
export async function usersRoleCommand(id: string, opts: { role: string; unit?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.access()).users;
    const { user, changed } = asUsage(() => svc.changeRole(id, { role: opts.role, ...(opts.unit !== undefined ? { unit: opts.unit } : {}) }, cliActor()));
    output(
      g,
      { id: user.id, role: user.role, unit: user.unit, changed },
      changed ? `User ${user.id} (${printable(user.name)}) is now ${user.role}${user.unit ? ` of ${printable(user.unit)}` : ' of every unit'}.` : `User ${user.id} already is ${user.role}${user.unit ? ` of ${printable(user.unit)}` : ''}: nothing changed.`,
    );
  });
}

export async function usersTokenCommand(id: string, opts: { expiresDays?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.access()).users;
    const existing = svc.get(id);
    if (existing?.revokedAt) {
      process.stderr.write(`custody: user ${id} is revoked; add a new user instead\n`);
      process.exitCode = EXIT_PROBLEM;
      return;
    }
    const tokenExpiresAt = expiryOption(opts.expiresDays, rt.config.api.tokenTtlDays, rt.catalog.clock.now());
    const { user, token } = asUsage(() => svc.reissueToken(id, tokenExpiresAt, cliActor()));
    output(g, { id: user.id, token }, `New token for ${user.id} (${printable(user.name)}), shown only now:\n  ${token}\n${user.tokenExpiresAt ? `It expires at ${user.tokenExpiresAt}.` : 'It does not expire.'}`);
  });
}

/** Read a line from stdin when it is not a terminal (a pipe or a file): the first line, without its newline. */
async function passwordFromPipe(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Ask twice at the terminal, without echo. */
async function passwordFromTerminal(name: string): Promise<string> {
  const { read } = await import('read');
  const first = await read({ prompt: `New console password for ${name}: `, silent: true, replace: '*', output: process.stderr });
  const again = await read({ prompt: 'Again: ', silent: true, replace: '*', output: process.stderr });
  if (first !== again) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}

/**
 * `custody users set-password NAME` (issue 15): the password for the console's sign-in.
 * At a terminal it is asked twice without echo; otherwise it is read from stdin's first
 * line (never from an argument: arguments are visible to every user of the machine).
 * `--generate` is the administrator's reset: a random password, printed once. Either
 * way the user's open sessions end, and the change is ledgered without the password.
 */
export async function usersSetPasswordCommand(nameOrId: string, opts: { generate?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.access()).users;
    const user = asUsage(() => svc.find(nameOrId));
    let password: string;
    if (opts.generate) password = generatePassword();
    else password = process.stdin.isTTY ? await passwordFromTerminal(printable(user.name)) : await passwordFromPipe();
    const problems = passwordProblems(password, user.name);
    if (problems.length > 0) throw new UsageError(`${problems.join('; ')}; nothing was changed`);
    const updated = svc.setPassword(user.id, await hashPassword(password), cliActor(), { reset: opts.generate ?? false });
    const who = `${updated.id} (${printable(updated.name)})`;
    if (opts.generate) {
      output(g, { id: updated.id, name: updated.name, password }, `New console password for ${who}, shown only now:\n  ${password}\nThe console asks the user to set their own at the first sign-in.`);
    } else {
      output(g, { id: updated.id, name: updated.name, passwordSetAt: updated.passwordSetAt }, `Console password set for ${who}; the user's open sessions have ended.`);
    }
  });
}
