import { userInfo } from 'node:os';

/**
 * The one format of a CLI actor in the ledger (docs/retention.md, "Who the ledger
 * names"): `cli:<os-user>`, the operating-system account that ran the command — the
 * only part the machine vouches for. An account without a name (a container's bare
 * uid) is `cli:uid<n>`. A name typed at the keyboard is never added: a person the
 * ledger is to name acts as a custody user with their own token (CUSTODY_TOKEN or
 * --token-file), and is named `user:<id>`.
 *
 * Entries written before this format (`cli:init`, `cli:purge:<user>`,
 * `cli:users:<user>`, `cli:<os-user>:<name>`) stay as they were: the ledger is append-only.
 */
export function cliActor(account: () => string = osAccount): string {
  return `cli:${account()}`;
}

/** The operating-system account running this process: its name, or `uid<n>` when it has none. */
export function osAccount(): string {
  try {
    const name = userInfo().username;
    if (name !== '') return name;
  } catch {
    // No passwd entry for this uid (e.g. a container): the number is what there is.
  }
  return `uid${process.getuid?.() ?? '?'}`;
}
