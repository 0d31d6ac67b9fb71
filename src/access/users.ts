import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { NotFoundError, rfc3339 } from '../core/index.js';
import { InvalidInputError, type AuthFailureReason } from './errors.js';
import { isRole, type Principal, type Role } from './roles.js';
import { TOKEN_RE, hashToken, newToken } from './tokens.js';
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
  };
}

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
      rotate: db.prepare<[string, string, string | null, string]>(
        'UPDATE users SET token_hash = ?, token_issued_at = ?, token_expires_at = ? WHERE id = ? AND revoked_at IS NULL',
      ),
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
      this.q.revoke.run(rfc3339(this.catalog.clock.now()), actor, id);
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
   * Who presents this token, or why nobody does. The token's form is checked before
   * it is hashed and looked up.
   */
  authenticate(token: string): AuthResult {
    if (!TOKEN_RE.test(token)) return { ok: false, reason: 'malformed', userId: null };
    const r = this.q.byHash.get(hashToken(token));
    if (!r) return { ok: false, reason: 'unknown', userId: null };
    if (r.revoked_at !== null) return { ok: false, reason: 'revoked', userId: r.id };
    if (r.token_expires_at !== null && r.token_expires_at <= rfc3339(this.catalog.clock.now())) return { ok: false, reason: 'expired', userId: r.id };
    return { ok: true, principal: { id: r.id, name: r.name, role: r.role, unit: r.unit } };
  }

  private require(id: string): User {
    const u = this.get(id);
    if (!u) throw new NotFoundError('user', id);
    return u;
  }
}
