import { userInfo } from 'node:os';

/**
 * The one format of a CLI actor in the ledger (docs/retention.md, "Who the ledger
 * names"): `cli:<os-user>`, the operating-system account that ran the command — the
 * only part the machine vouches for. An account without a name (a container's bare
 * uid) is `cli:uid<n>`. `custody cases … --by <name>` adds the name typed at the
 * keyboard as a last part, `cli:<os-user>:<name>`: said, not proven.
 *
 * Entries written before this format (`cli:init`, `cli:purge:<user>`,
 * `cli:users:<user>`) stay as they were: the ledger is append-only.
 */
export function cliActor(by?: string, account: () => string = osAccount): string {
  const who = `cli:${account()}`;
  return by ? `${who}:${by}` : who;
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
