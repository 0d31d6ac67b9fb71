import type { Command } from 'commander';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustodyError, UsageError, errorMessage } from '../../core/index.js';
import { cliStation, globals, output } from '../context.js';

/**
 * `custody key export --out FILE`: the station's signing key (Ed25519, PEM), for
 * keeping offline. A station restored with it (`custody restore --key FILE`) signs
 * with the same key; without it, the restore makes a new key and ledgers the rotation.
 * The file is created with mode 0600 and never overwritten.
 */
export async function keyExportCommand(opts: { out?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  if (!opts.out) throw new UsageError('give --out FILE: where to write the station key');
  if (existsSync(opts.out)) throw new UsageError(`${opts.out} exists; the key is never written over a file`);
  const { config } = cliStation(g);
  const file = join(config.home, 'keys', 'station.ed25519.pem');
  const pem = await readFile(file, 'utf8').catch((e: unknown) => {
    throw new CustodyError('KEY_UNREADABLE', `cannot read the station key ${file}: ${errorMessage(e)}`, { cause: e });
  });
  const der = createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' });
  const fingerprint = createHash('sha256').update(der.subarray(der.length - 32)).digest('hex');
  try {
    await writeFile(opts.out, pem, { mode: 0o600, flag: 'wx' });
    // The mode whatever the umask.
    await chmod(opts.out, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') await rm(opts.out, { force: true });
    throw new UsageError(`cannot write ${opts.out}: ${errorMessage(e)}`);
  }
  output(
    g,
    { file: opts.out, fingerprint, mode: '0600' },
    `Station key written to ${opts.out} (mode 0600)\n  fingerprint: ${fingerprint}\nKeep it offline (a USB key in a safe): with it, custody restore --key signs on with the same key.`,
  );
}
