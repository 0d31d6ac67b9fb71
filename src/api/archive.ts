import { ArchiveService } from '../archive/index.js';
import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { CheckpointIssuer, formatVerifierKey, loadStationSigner, witnessesFor, type SignedCheckpoint } from '../proof/index.js';
import type { ObjectStore } from '../vault/index.js';
import type { ApiCheckpoints } from './context.js';

export interface ArchiveForApiDeps {
  config: Pick<Config, 'home' | 'timezone' | 'archive' | 'checkpoints'>;
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  checkpoints: ApiCheckpoints | undefined;
}

/**
 * The API's archival export service, built at the first export and kept. Its copies
 * carry a checkpoint covering the ledger: the daemon's checkpoint service when there
 * is one, else one issued with the station key. While the station key cannot be read,
 * exports carry no checkpoint or inclusion proofs, and the key is read again at the
 * next export.
 */
export function archiveForApi(deps: ArchiveForApiDeps): () => Promise<ArchiveService> {
  const { config, catalog, store, log } = deps;
  let kept: ArchiveService | undefined;

  const checkpointing = async (): Promise<{ checkpoint: () => Promise<SignedCheckpoint | null>; verifierKey: string | null } | null> => {
    const signer = await loadStationSigner(config.home, config.checkpoints.origin).catch((err: unknown) => {
      log.warn({ err }, 'station key not readable: this export carries no checkpoint or inclusion proofs');
      return null;
    });
    if (!signer) return null;
    const svc = deps.checkpoints;
    if (svc?.issueIfGrown) {
      const issue = svc.issueIfGrown.bind(svc);
      return { checkpoint: async () => (await issue())?.checkpoint ?? null, verifierKey: formatVerifierKey(signer) };
    }
    const issuer = new CheckpointIssuer({
      catalog,
      store,
      signer,
      witnesses: witnessesFor(config.checkpoints.witnesses, config.home, signer.name),
      log: log.child({ module: 'checkpoints' }),
    });
    return { checkpoint: async () => (await issuer.issue())?.checkpoint ?? null, verifierKey: issuer.verifierKey };
  };

  return async () => {
    if (kept) return kept;
    const cp = await checkpointing();
    const archive = new ArchiveService({
      catalog,
      store,
      log: log.child({ module: 'archive' }),
      timezone: config.timezone,
      copies: config.archive.copies,
      sourceOrganization: config.archive.sourceOrganization,
      verifierKey: cp?.verifierKey ?? null,
      checkpoint: cp?.checkpoint ?? (() => Promise.resolve(null)),
      afterExport: async () => void (await cp?.checkpoint()),
      destinationRoots: config.archive.destinationRoots,
    });
    if (cp) kept = archive;
    return archive;
  };
}
