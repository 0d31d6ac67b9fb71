export { Catalog, catalogPath, type TxObserver } from './catalog.js';
export { openDatabase, migrate, schemaVersion, scratchConnection, withScratchConnection, type Db } from './db.js';
export { migrations, type Migration } from './migrations/index.js';
export { EvidenceRepo, type Evidence, type IngestFailure } from './evidence-repo.js';
