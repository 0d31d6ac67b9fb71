/**
 * The configuration's validator and the ledger's entry-type schemas load on first use
 * through a synchronous require of their built .js modules (src/config/load.ts,
 * src/ledger/ledger.ts), which the test runner, running the TypeScript sources, does not
 * have. Importing them here installs both before any test runs; the built CLI and daemon,
 * which the end-to-end tests start, take the require path.
 */
import '../../src/config/validate.js';
import '../../src/ledger/entry-types.js';
