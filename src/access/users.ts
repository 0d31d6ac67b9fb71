import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { NotFoundError, rfc3339 } from '../core/index.js';
import { InvalidInputError, type AuthFailureReason } from './errors.js';
import { isRole, type Principal, type Role } from './roles.js';
import { TOKEN_RE, hashToken, newToken } from './tokens.js';
import { hashSession } from './sessions.js';
import { ledgerOf } from '../ledger/index.js';

export interface User {
  id: string;
  name: string;
  role: Role;
  unit: string | null;
  createdAt: string;
  createdBy: string;
  tokenIssuedAt: string;
  /** null: the token does not expire. */
  tokenExpiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Whether the user may sign in to the console with a password. */
  hasPassword: boolean;
  passwordSetAt: string | null;
  /** The password was set by someone else (a reset): the user must change it at the next sign-in. */
  passwordMustChange: boolean;
}

export interface NewUser {
  name: string;
  role: string;
  unit?: string | null;
  /** When the token stops working; null for never. */
  tokenExpiresAt: Date | null;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailureReason; userId: string | null };

interface Row {
  id: string;
  name: string;
  role: Role;
  unit: string | null;
  token_hash: string;
  token_issued_at: string;
  token_expires_at: string | null;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
  password_hash: string | null;
  password_set_at: string | null;
  password_must_change: number;
}

function fromRow(r: Row): User {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    unit: r.unit,
    createdAt: r.created_at,
    createdBy: r.created_by,
    tokenIssuedAt: r.token_issued_at,
    tokenExpiresAt: r.token_expires_at,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
    hasPassword: r.password_hash !== null,
    passwordSetAt: r.password_set_at,
    passwordMustChange: r.password_must_change === 1,
  };
}

/** How many authenticated tokens UsersService remembers (the oldest is forgotten first). */
const KNOWN_TOKENS = 1000;

// Printable text only: names and units end up in logs, tables and the ledger. The
// bidirectional overrides are refused too: they make a name read other than it is.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Check a new user's fields; returns them normalised (trimmed, unit null when empty). */
export function validateNewUser(input: NewUser, now: Date): { name: string; role: Role; unit: string | null; tokenExpiresAt: Date | null } {
  const problems: string[] = [];
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100 || CONTROL.test(name)) problems.push('name must be 1 to 100 printable characters');
  if (!isRole(input.role)) problems.push(`role must be one of operator, supervisor, archivist, auditor, admin (got "${input.role}")`);
  const unit = input.unit === undefined || input.unit === null || input.unit.trim() === '' ? null : input.unit.trim();
  if (unit !== null && (unit.length > 64 || CONTROL.test(unit))) problems.push('unit must be 1 to 64 printable characters');
  if (input.tokenExpiresAt !== null && !(input.tokenExpiresAt.getTime() > now.getTime())) problems.push('the token expiry must be in the future');
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '), { problems });
  return { name, role: input.role as Role, unit, tokenExpiresAt: input.tokenExpiresAt };
}

/**
 * API users and their tokens. A user has one token at a time; it is shown once when
 * issued and only its hash is kept. Creating, revoking and re-issuing are ledgered in
 * the same transaction as the change.
 */
export class UsersService {
  private readonly q;
  /**
   * Tokens that authenticated, by their SHA-256: the user's principal and the token's
   * expiry, as the catalog said when `knownAt` was read. Any commit since — by another
   * process (the CLI revoking a user, changing a role, issuing a token: PRAGMA
   * data_version moves) or by this connection (total_changes() moves) — empties it, so
   * a change takes effect on the very next request; only a catalog unchanged since
   * spares the row lookup. The expiry is checked on every request.
   */
  private readonly known = new Map<string, { principal: Principal; expiresAt: string | null }>();
  private knownAt = '';

  constructor(private readonly catalog: Catalog) {
    const db = catalog.db;
    this.q = {
      insert: db.prepare(`INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, token_expires_at, created_at, created_by)
        VALUES (@id, @name, @role, @unit, @tokenHash, @now, @tokenExpiresAt, @now, @actor)`),
      byId: db.prepare<[string], Row>('SELECT * FROM users WHERE id = ?'),
      byHash: db.prepare<[string], Row>('SELECT * FROM users WHERE token_hash = ?'),
      all: db.prepare<[], Row>('SELECT * FROM users ORDER BY created_at, id'),
      active: db.prepare<[], Row>('SELECT * FROM users WHERE revoked_at IS NULL ORDER BY created_at, id'),
      revoke: db.prepare<[string, string, string]>('UPDATE users SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL'),
      activeByName: db.prepare<[string], Row>('SELECT * FROM users WHERE name = ? AND revoked_at IS NULL ORDER BY created_at, id'),
      setPassword: db.prepare<[string, string, number, string]>(
        'UPDATE users SET password_hash = ?, password_set_at = ?, password_must_change = ? WHERE id = ? AND revoked_at IS NULL',
      ),
      endSessions: db.prepare<[string, string, string, string]>(
        'UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL AND id_hash <> ?',
      ),
      setRole: db.prepare<[string, string | null, string]>('UPDATE users SET role = ?, unit = ? WHERE id = ? AND revoked_at IS NULL'),
      rotate: db.prepare<[string, string, string | null, string]>(
        'UPDATE users SET token_hash = ?, token_issued_at = ?, token_expires_at = ? WHERE id = ? AND revoked_at IS NULL',
      ),
      // Changes committed by other connections, and rows changed by this one, so far.
      catalogState: db.prepare<[], string>("SELECT data_version || '/' || total_changes() FROM pragma_data_version").pluck(true),
    };
  }

  create(input: NewUser, actor: string): { user: User; token: string } {
    const now = this.catalog.clock.now();
    const v = validateNewUser(input, now);
    const id = uuidv7();
    const token = newToken();
    const stamp = rfc3339(now);
    const expires = v.tokenExpiresAt ? rfc3339(v.tokenExpiresAt) : null;
    this.catalog.tx(() => {
      // A name is what a person signs in with: two active users may not share one.
      if (this.q.activeByName.get(v.name)) throw new InvalidInputError(`an active user is already named "${v.name}"; choose another name`);
      this.q.insert.run({ id, name: v.name, role: v.role, unit: v.unit, tokenHash: hashToken(token), now: stamp, tokenExpiresAt: expires, actor });
      ledgerOf(this.catalog).append({
        type: 'user.created',
        actor,
        subject: id,
        data: { name: v.name, role: v.role, unit: v.unit, tokenExpiresAt: expires },
      });
    });
    return { user: this.require(id), token };
  }

  get(id: string): User | null {
    const r = this.q.byId.get(id);
    return r ? fromRow(r) : null;
  }

  list(opts: { includeRevoked?: boolean } = {}): User[] {
    return (opts.includeRevoked ? this.q.all : this.q.active).all().map(fromRow);
  }

  /** Revoke a user's access for good. Revoking a revoked user changes nothing. */
  revoke(id: string, actor: string): { user: User; changed: boolean } {
    const changed = this.catalog.tx(() => {
      const user = this.require(id);
      if (user.revokedAt !== null) return false;
      const stamp = rfc3339(this.catalog.clock.now());
      this.q.revoke.run(stamp, actor, id);
      this.q.endSessions.run(stamp, 'user-revoked', id, '');
      ledgerOf(this.catalog).append({ type: 'user.revoked', actor, subject: id, data: { name: user.name, role: user.role, unit: user.unit } });
      return true;
    });
    return { user: this.require(id), changed };
  }

  /** Issue a new token (the old one stops working at once). */
  reissueToken(id: string, tokenExpiresAt: Date | null, actor: string): { user: User; token: string } {
    const now = this.catalog.clock.now();
    if (tokenExpiresAt !== null && !(tokenExpiresAt.getTime() > now.getTime())) throw new InvalidInputError('the token expiry must be in the future');
    const token = newToken();
    const expires = tokenExpiresAt ? rfc3339(tokenExpiresAt) : null;
    this.catalog.tx(() => {
      const user = this.require(id);
      if (user.revokedAt !== null) throw new InvalidInputError(`user ${id} is revoked; add a new user instead`);
      this.q.rotate.run(hashToken(token), rfc3339(now), expires, id);
      ledgerOf(this.catalog).append({ type: 'user.token-issued', actor, subject: id, data: { tokenExpiresAt: expires } });
    });
    return { user: this.require(id), token };
  }

  /**
   * Change what a user may do: their role and unit (issue 20). Ledgered as
   * `user.role-changed` with the role and unit before and after, in the same
   * transaction, so a station restored from its vault gives the user the same rights.
   * Returns changed: false (nothing ledgered) when both are already so.
   */
  changeRole(id: string, input: { role: string; unit?: string | null }, actor: string): { user: User; changed: boolean } {
    if (!isRole(input.role)) throw new InvalidInputError(`role must be one of operator, supervisor, archivist, auditor, admin (got "${input.role}")`);
    const unit = input.unit === undefined ? undefined : input.unit === null || input.unit.trim() === '' ? null : input.unit.trim();
    if (unit && (unit.length > 64 || CONTROL.test(unit))) throw new InvalidInputError('unit must be 1 to 64 printable characters');
    const changed = this.catalog.tx(() => {
      const user = this.require(id);
      if (user.revokedAt !== null) throw new InvalidInputError(`user ${id} is revoked; add a new user instead`);
      const to = { role: input.role as Role, unit: unit === undefined ? user.unit : unit };
      if (to.role === user.role && to.unit === user.unit) return false;
      this.q.setRole.run(to.role, to.unit, id);
      ledgerOf(this.catalog).append({ type: 'user.role-changed', actor, subject: id, data: { name: user.name, from: { role: user.role, unit: user.unit }, to } });
      return true;
    });
    return { user: this.require(id), changed };
  }

  /**
   * The one active user with this name (names are what people sign in with). None, or
   * several left from before names were unique, is an error naming the way out.
   */
  byName(name: string): User {
    const rows = this.q.activeByName.all(name.trim());
    if (rows.length === 0) throw new NotFoundError('user', name);
    if (rows.length > 1) throw new InvalidInputError(`${rows.length} active users are named "${name.trim()}"; give the user id instead (custody users list)`);
    return fromRow(rows[0]!);
  }

  /** A user by id, or by name when no id matches. */
  find(idOrName: string): User {
    return this.get(idOrName) ?? this.byName(idOrName);
  }

  /**
   * Set a user's password (`hash` from `hashPassword`, after `passwordProblems`). Every
   * open session of the user ends, but the one whose cookie is `keepSession` (the user's
   * own, when they change it themselves). Ledgered as `user.password-set`, never with
   * the hash.
   */
  setPassword(id: string, hash: string, actor: string, opts: { reset: boolean; keepSession?: string | null }): User {
    this.catalog.tx(() => {
      const user = this.require(id);
      if (user.revokedAt !== null) throw new InvalidInputError(`user ${id} is revoked; add a new user instead`);
      const stamp = rfc3339(this.catalog.clock.now());
      // A password someone else set (a reset, a new user's first) is changed by its user at
      // the next sign-in; one the user set is theirs.
      this.q.setPassword.run(hash, stamp, opts.reset ? 1 : 0, id);
      const keep = opts.keepSession ? hashSession(opts.keepSession) : '';
      const ended = this.q.endSessions.run(stamp, 'password-changed', id, keep).changes;
      ledgerOf(this.catalog).append({ type: 'user.password-set', actor, subject: id, data: { reset: opts.reset, sessionsEnded: ended } });
    });
    return this.require(id);
  }

  /** The stored password hash of an active user, for checking the current password before a change. */
  passwordHashOf(id: string): string | null {
    const r = this.q.byId.get(id);
    return r && r.revoked_at === null ? r.password_hash : null;
  }

  /**
   * Who presents this token, or why nobody does. The token's form is checked before
   * it is hashed and looked up.
   */
  authenticate(token: string): AuthResult {
    if (!TOKEN_RE.test(token)) return { ok: false, reason: 'malformed', userId: null };
    const hash = hashToken(token);
    const state = this.q.catalogState.get()!;
    if (state !== this.knownAt) {
      this.known.clear();
      this.knownAt = state;
    }
    const known = this.known.get(hash);
    if (known) {
      if (known.expiresAt !== null && known.expiresAt <= rfc3339(this.catalog.clock.now())) return { ok: false, reason: 'expired', userId: known.principal.id };
      return { ok: true, principal: { ...known.principal } };
    }
    const r = this.q.byHash.get(hash);
    if (!r) return { ok: false, reason: 'unknown', userId: null };
    if (r.revoked_at !== null) return { ok: false, reason: 'revoked', userId: r.id };
    if (r.token_expires_at !== null && r.token_expires_at <= rfc3339(this.catalog.clock.now())) return { ok: false, reason: 'expired', userId: r.id };
    const principal: Principal = { id: r.id, name: r.name, role: r.role, unit: r.unit };
    if (this.known.size >= KNOWN_TOKENS) this.known.delete(this.known.keys().next().value!);
    this.known.set(hash, { principal, expiresAt: r.token_expires_at });
    return { ok: true, principal: { ...principal } };
  }

  private require(id: string): User {
    const u = this.get(id);
    if (!u) throw new NotFoundError('user', id);
    return u;
  }
}
