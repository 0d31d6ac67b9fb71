import type { UnclaimedReport } from '../../ledger/index.js';

/**
 * The objects no sealed entry names, as restore and `custody verify --unclaimed` print
 * them; null when the vault could not be listed (`why`, when the caller has the reason).
 */
export function unclaimedLines(u: UnclaimedReport | null, why: string | null = null): string[] {
  if (u === null) return [`  unclaimed: not counted (the vault's objects could not be listed${why === null ? '; see the log' : `: ${why}`})`];
  if (u.count === 0) return [`  unclaimed: none (every one of the vault's ${u.scanned} objects is named by an entry)`];
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  return [
    `  unclaimed: ${u.count} object(s), ${mb(u.bytes)} MB, that no entry names: footage of the entries lost with the station, or a crash's leftovers; kept, not catalogued (docs/operations.md)`,
    ...u.objects.map((o) => `             ${o.key}  ${o.size} bytes  ${o.kind}`),
    ...(u.count > u.objects.length ? [`             … and ${u.count - u.objects.length} more (--json lists the first ${u.objects.length})`] : []),
  ];
}
