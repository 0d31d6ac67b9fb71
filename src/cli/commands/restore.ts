import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defaultConfigPath, loadConfig } from '../../config/index.js';
import { UsageError } from '../../core/index.js';
import { openObjectStore } from '../../vault/index.js';
import { cliActor } from '../actor.js';
import { EXIT_PROBLEM, cliLogger, globals, output } from '../context.js';
import type { RestoreReport } from '../../backup/index.js';
import { unclaimedLines } from './unclaimed.js';

interface RestoreOpts {
  from?: string;
  key?: string;
}

function human(r: RestoreReport): string {
  const refused = Object.entries(r.refused);
  const lines = [
    `${r.ok ? 'Restored' : 'Restored with problems:'} station into ${r.home} from the ${r.vault.kind} vault ${r.vault.location} (${(r.durationMs / 1000).toFixed(1)} s)`,
    `  snapshot:  ${r.snapshot ? `${r.snapshot.key} (entries 1..${r.snapshot.ledgerSize}, taken ${r.snapshot.takenAt})` : 'none usable: replayed from the first entry'}`,
    ...r.snapshotsPassedOver.map((p) => `             passed over ${p.key}: ${p.reason}`),
    `  ledger:    entries 1..${r.sealedThrough} (every sealed entry); ${r.replayed} replayed after the snapshot`,
    `  replayed:  ${r.applied} changed the catalog, ${r.recordOnly} are records only${refused.length ? `, refused: ${refused.map(([t, n]) => `${t} ×${n}`).join(', ')}` : ''}`,
    `  evidence:  ${r.evidence.live} live, ${r.evidence.purged} purged`,
    `  key:       ${r.key.restored ? `the station key ${r.key.fingerprint.slice(0, 16)}… (from --key)` : `a NEW station key ${r.key.fingerprint.slice(0, 16)}…, rotated from ${(r.key.rotatedFrom ?? 'unknown').slice(0, 16)}… (ledgered as key.rotated; checkpoints before it verify with the old key)`}`,
    `  verify:    ${r.verify.ok ? 'the ledger, the segments and every referenced object check out' : `${r.verify.problems.length} problem(s)`}`,
    ...r.verify.problems.slice(0, 10).map((p) => `             - ${p.code}: ${p.message}`),
    ...unclaimedLines(r.unclaimed),
    `  users to re-issue a token or password for (custody users token <id>): ${r.usersToReissue.length}`,
    ...r.usersToReissue.map((u) => `             ${u.id}  ${u.name}  (${u.role})`),
    '  not restored:',
    ...r.notRestored.map((n) => `    - ${n}`),
  ];
  return lines.join('\n');
}

/**
 * `custody restore --from VAULT --home NEW_HOME [--key FILE]`: rebuild a lost station
 * from its vault alone (docs/operations.md). VAULT is an fs vault folder; without
 * --from, the vault --config describes (an S3 bucket, typically).
 */
export async function restoreCommand(opts: RestoreOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  if (!g.home) throw new UsageError('give --home NEW_HOME: the folder of the restored station (it must not hold a catalog)');
  const home = resolve(g.home);
  const loaded = loadConfig({ home, configFile: g.config });
  let vault = loaded.vault;
  if (opts.from !== undefined) {
    const from = resolve(opts.from);
    if (!existsSync(from) || !statSync(from).isDirectory()) throw new UsageError(`--from ${opts.from} is not a folder (an fs vault); for an S3 vault, give --config with its vault.s3 settings instead`);
    vault = { ...vault, kind: 'fs', fs: { ...vault.fs, path: from } };
  } else if (vault.kind === 'fs' && !existsSync(vault.fs.path)) {
    throw new UsageError(`give --from VAULT (an fs vault folder), or --config FILE describing the vault; ${vault.fs.path} does not exist`);
  }
  const log = cliLogger(g, loaded);
  const store = await openObjectStore(vault, log);
  const { restoreStation } = await import('../../backup/index.js');
  let report: RestoreReport;
  try {
    const progress = process.stderr.isTTY && !g.json;
    report = await restoreStation({
      store,
      home,
      ...(opts.key !== undefined ? { keyFile: resolve(opts.key) } : {}),
      origin: loaded.checkpoints.origin,
      segmentEntries: loaded.ledger.segmentEntries,
      actor: cliActor(),
      log: log.child({ module: 'restore' }),
      ...(progress ? { onProgress: (p: { pass: string; done: number }) => process.stderr.write(`\r  ${p.pass}: ${p.done} ${p.pass === 'unclaimed' ? 'objects' : 'entries'}`) } : {}),
    });
    if (progress) process.stderr.write('\n');
  } finally {
    await store.close();
  }
  // The restored station finds its vault: an fs vault restored --from elsewhere is named in its configuration.
  const configFile = defaultConfigPath(home);
  if (!g.config && !existsSync(configFile)) {
    const vaultYaml = vault.kind === 'fs' ? `vault:\n  kind: fs\n  fs:\n    path: ${JSON.stringify(vault.fs.path)}\n` : '';
    await writeFile(configFile, `# Written by custody restore; every key is documented in config/custody.example.yaml.\ntimezone: ${JSON.stringify(loaded.timezone)}\n${vaultYaml}`, { flag: 'wx' });
  }
  output(g, report, human(report));
  if (!report.ok) {
    process.stderr.write(`custody: restore: ${report.verify.ok ? 'entries signed by a checkpoint were never sealed and are lost' : 'the restored station does not verify'}\n`);
    process.exitCode = EXIT_PROBLEM;
  }
}
