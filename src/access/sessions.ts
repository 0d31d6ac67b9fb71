import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog/index.js';
import { rfc3339, sha256Hex } from '../core/index.js';
import { ledgerOf } from '../ledger/index.js';
import type { AuthFailureReason } from './errors.js';
import { verifyNothing, verifyPassword } from './passwords.js';
import { actorOf, type Principal, type Role } from './roles.js';

/**
 * Browser sessions (issue 15). Signing in with a name and password gives a session
 * whose secret travels only in an httpOnly cookie; the catalog keeps SHA-256 of it,
 * never the secret. A session ends at sign-out, after `idleMinutes` without a request,
 * after `maxHours` in all, or when the user's password changes or the user is revoked.
 * Sign-ins and sign-outs are ledgered (`session.signed-in`, `session.signed-out`) with
 * the session's reference (the first 16 hex digits of its hash), so an administrator
 * sees who was signed in, from where and when.
 */

export const SESSION_PREFIX = 'css_';
export const SESSION_RE = /^css_[A-Za-z0-9_-]{43}$/;
/** A session's activity is written at most this often (a request per second must not be a write per second). */
const TOUCH_EVERY_MS = 60_000;

export interface SessionOptions {
  idleMinutes: number;
  maxHours: number;
}

export interface SessionInfo {
  /** The session's public reference (in the ledger and the list of sessions). */
  ref: string;
  userId: string;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  expiresAt: string;
  ip: string;
  userAgent: string | null;
}

/** One sign-in of a user, as the ledger recorded it, with what became of its session. */
export interface SignIn {
  at: string;
  /** The session's public reference. */
  session: string;
  ip: string;
  userAgent: string | null;
  expiresAt: string | null;
  /** open: still signed in; ended: signed out, expired or ended by a password change or revocation; unknown: its row was pruned. */
  state: 'open' | 'ended' | 'unknown';
  endedAt: string | null;
  endReason: string | null;
}

export type SignInResult =
  | { ok: true; token: string; principal: Principal; session: SessionInfo; mustChangePassword: boolean }
  | { ok: false; reason: Extract<AuthFailureReason, 'bad-password'>; userId: string | null };

export type SessionAuthResult =
  // mustChangePassword: the user signed in with a password someone else set; until they
  // change it, the session may only see who it is, change the password or sign out.
  | { ok: true; principal: Principal; session: SessionInfo; mustChangePassword: boolean }
  | { ok: false; reason: Extract<AuthFailureReason, 'malformed' | 'unknown' | 'expired' | 'revoked'>; userId: string | null };

interface Row {
  id_hash: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  idle_expires_at: string;
  expires_at: string;
  ip: string;
  user_agent: string | null;
  ended_at: string | null;
  end_reason: string | null;
}

interface JoinedRow extends Row {
  name: string;
  role: Role;
  unit: string | null;
  revoked_at: string | null;
  password_must_change: number;
}

interface Candidate {
  id: string;
  name: string;
  role: Role;
  unit: string | null;
  password_hash: string | null;
  password_must_change: number;
}

const refOf = (hash: string): string => hash.slice(0, 16);

function info(r: Row): SessionInfo {
  return {
    ref: refOf(r.id_hash),
    userId: r.user_id,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
    ip: r.ip,
    userAgent: r.user_agent,
  };
}

export function hashSession(token: string): string {
  return sha256Hex(token);
}

export class SessionsService {
  private readonly q;

  constructor(
    private readonly catalog: Catalog,
    private readonly opts: SessionOptions,
  ) {
    const db = catalog.db;
    this.q = {
      byName: db.prepare<[string], Candidate>('SELECT id, name, role, unit, password_hash, password_must_change FROM users WHERE name = ? AND revoked_at IS NULL'),
      insert: db.prepare(`INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, ip, user_agent)
        VALUES (@idHash, @userId, @now, @now, @idle, @expires, @ip, @userAgent)`),
      get: db.prepare<[string], JoinedRow>(
        'SELECT s.*, u.name, u.role, u.unit, u.revoked_at, u.password_must_change FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?',
      ),
      touch: db.prepare<[string, string, string]>('UPDATE sessions SET last_seen_at = ?, idle_expires_at = ? WHERE id_hash = ? AND ended_at IS NULL'),
      end: db.prepare<[string, string, string]>('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id_hash = ? AND ended_at IS NULL'),
      endForUser: db.prepare<[string, string, string, string]>(
        'UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL AND id_hash <> ?',
      ),
      signIns: db.prepare<[string, number], { time: string; data: string }>(
        "SELECT time, data FROM ledger WHERE subject = ? AND type = 'session.signed-in' ORDER BY seq DESC LIMIT ?",
      ),
      byRef: db.prepare<[string], Row>('SELECT * FROM sessions WHERE substr(id_hash, 1, 16) = ?'),
      open: db.prepare<{ now: string }, Row>('SELECT * FROM sessions WHERE ended_at IS NULL AND idle_expires_at > @now AND expires_at > @now ORDER BY created_at DESC'),
      prune: db.prepare<[string]>('DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?'),
      expireStale: db.prepare<{ now: string }>(
        "UPDATE sessions SET ended_at = @now, end_reason = 'expired' WHERE ended_at IS NULL AND (idle_expires_at <= @now OR expires_at <= @now)",
      ),
    };
  }

  private now(): Date {
    return this.catalog.clock.now();
  }

  /**
   * Check a name and password and open a session. A wrong password, an unknown name, a
   * user without a password and a name two active users share all fail alike, and take
   * alike long (a scrypt derivation each), so a caller learns nothing about which
   * names exist.
   */
  async signIn(input: { name: string; password: string; ip: string; userAgent: string | null }): Promise<SignInResult> {
    const candidates = this.q.byName.all(input.name.trim());
    const user = candidates.length === 1 ? candidates[0]! : null;
    const ok = user?.password_hash ? await verifyPassword(input.password, user.password_hash) : await verifyNothing(input.password);
    if (!ok || !user) return { ok: false, reason: 'bad-password', userId: user?.id ?? null };
    // The check ran outside any transaction (it awaits): the user may have been revoked
    // or given a new password meanwhile. Re-read inside the one that writes the session.
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    const idHash = hashSession(token);
    const opened = this.catalog.tx(() => {
      const again = this.q.byName.all(input.name.trim());
      if (again.length !== 1 || again[0]!.id !== user.id || again[0]!.password_hash !== user.password_hash) return false;
      const now = this.now();
      const stamp = rfc3339(now);
      const expires = new Date(now.getTime() + this.opts.maxHours * 3_600_000);
      const idle = new Date(Math.min(expires.getTime(), now.getTime() + this.opts.idleMinutes * 60_000));
      const userAgent = input.userAgent === null ? null : input.userAgent.slice(0, 256);
      this.q.insert.run({ idHash, userId: user.id, now: stamp, idle: rfc3339(idle), expires: rfc3339(expires), ip: input.ip, userAgent });
      ledgerOf(this.catalog).append({
        type: 'session.signed-in',
        actor: actorOf(user),
        subject: user.id,
        data: { session: refOf(idHash), ip: input.ip, userAgent, expiresAt: rfc3339(expires) },
      });
      return true;
    });
    if (!opened) return { ok: false, reason: 'bad-password', userId: user.id };
    const row = this.q.get.get(idHash)!;
    return {
      ok: true,
      token,
      principal: { id: user.id, name: user.name, role: user.role, unit: user.unit },
      session: info(row),
      mustChangePassword: user.password_must_change === 1,
    };
  }

  /** Who holds this session cookie; keeps an active session alive (idle expiry moves on). */
  authenticate(token: string): SessionAuthResult {
    if (!SESSION_RE.test(token)) return { ok: false, reason: 'malformed', userId: null };
    const idHash = hashSession(token);
    const r = this.q.get.get(idHash);
    if (!r) return { ok: false, reason: 'unknown', userId: null };
    if (r.ended_at !== null) return { ok: false, reason: r.end_reason === 'expired' ? 'expired' : 'revoked', userId: r.user_id };
    if (r.revoked_at !== null) return { ok: false, reason: 'revoked', userId: r.user_id };
    const now = this.now();
    const stamp = rfc3339(now);
    if (r.idle_expires_at <= stamp || r.expires_at <= stamp) {
      this.q.end.run(stamp, 'expired', idHash);
      return { ok: false, reason: 'expired', userId: r.user_id };
    }
    if (now.getTime() - Date.parse(r.last_seen_at) >= TOUCH_EVERY_MS) {
      const idle = rfc3339(new Date(Math.min(Date.parse(r.expires_at), now.getTime() + this.opts.idleMinutes * 60_000)));
      this.q.touch.run(stamp, idle, idHash);
      r.last_seen_at = stamp;
      r.idle_expires_at = idle;
    }
    return { ok: true, principal: { id: r.user_id, name: r.name, role: r.role, unit: r.unit }, session: info(r), mustChangePassword: r.password_must_change === 1 };
  }

  /** End the session this cookie holds (sign-out). False when it was not open. */
  signOut(token: string, principal: Principal): boolean {
    if (!SESSION_RE.test(token)) return false;
    const idHash = hashSession(token);
    return this.catalog.tx(() => {
      const r = this.q.get.get(idHash);
      if (!r || r.user_id !== principal.id || r.ended_at !== null) return false;
      this.q.end.run(rfc3339(this.now()), 'signed-out', idHash);
      ledgerOf(this.catalog).append({ type: 'session.signed-out', actor: actorOf(principal), subject: principal.id, data: { session: refOf(idHash) } });
      return true;
    });
  }

  /**
   * End every open session of a user but `keep` (the caller's own, on a password
   * change). Runs inside the caller's transaction; returns how many ended.
   */
  endForUser(userId: string, reason: 'password-changed' | 'user-revoked', keepToken: string | null = null): number {
    const keep = keepToken !== null && SESSION_RE.test(keepToken) ? hashSession(keepToken) : '';
    return this.q.endForUser.run(rfc3339(this.now()), reason, userId, keep).changes;
  }

  /**
   * A user's sign-ins, newest first, from the ledger (the sessions table forgets ended
   * sessions after a while; the ledger does not), each with its session's state.
   */
  signInsOf(userId: string, limit: number): SignIn[] {
    const now = rfc3339(this.now());
    return this.q.signIns.all(userId, limit).map((e) => {
      const d = JSON.parse(e.data) as { session?: string; ip?: string; userAgent?: string | null; expiresAt?: string };
      const ref = d.session ?? '';
      const row = ref ? this.q.byRef.get(ref) : undefined;
      const open = row !== undefined && row.ended_at === null && row.idle_expires_at > now && row.expires_at > now;
      return {
        at: e.time,
        session: ref,
        ip: d.ip ?? '',
        userAgent: d.userAgent ?? null,
        expiresAt: d.expiresAt ?? null,
        state: row === undefined ? 'unknown' : open ? 'open' : 'ended',
        endedAt: row?.ended_at ?? (row && !open ? (row.idle_expires_at < row.expires_at ? row.idle_expires_at : row.expires_at) : null),
        endReason: row?.end_reason ?? (row && !open ? 'expired' : null),
      };
    });
  }

  /** Open sessions, newest first (for administrators). */
  open(): SessionInfo[] {
    return this.q.open.all({ now: rfc3339(this.now()) }).map(info);
  }

  /** Mark sessions past their expiry ended, and drop ended ones older than `before`. */
  sweep(before: Date): { expired: number; pruned: number } {
    return this.catalog.tx(() => {
      const stamp = rfc3339(this.now());
      const expired = this.q.expireStale.run({ now: stamp }).changes;
      const pruned = this.q.prune.run(rfc3339(before)).changes;
      return { expired, pruned };
    });
  }
}
