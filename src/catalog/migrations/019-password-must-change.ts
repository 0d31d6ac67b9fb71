import type { Migration } from './types.js';

/**
 * A password someone else set must be changed at the next sign-in (issue 19).
 * - `users.password_must_change`: 1 after an administrator's reset or a new user's first
 *   password (custody users set-password --generate, POST /users, POST
 *   /users/{id}/password-reset), 0 once the user sets one of their own. While it is 1, a
 *   session may only see who it is, change the password or sign out.
 * Existing users keep 0: whoever set their passwords is not known.
 */
export const m019: Migration = {
  version: 19,
  name: 'password-must-change',
  up(db) {
    db.exec(`ALTER TABLE users ADD COLUMN password_must_change INTEGER NOT NULL DEFAULT 0 CHECK (password_must_change IN (0, 1));`);
  },
};
