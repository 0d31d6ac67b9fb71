// Preload (node --import): record every module the process resolves, one URL a line,
// in the file named by RECORD_IMPORTS_FILE. Used to prove what `custody` loads at start.
// The loader hooks see import statements and import(); a require() — custody requires
// the configuration's validator and the ledger's entry types at first use — goes through
// CommonJS's loader, recorded here by wrapping its _load.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS_FILE } });

const load = Module._load;
Module._load = function recordedLoad(request, parent, isMain) {
  if (!Module.isBuiltin(request)) {
    try {
      appendFileSync(process.env.RECORD_IMPORTS_FILE, pathToFileURL(Module._resolveFilename(request, parent, isMain)).href + '\n');
    } catch {
      // A name that does not resolve: the load below throws as it would have.
    }
  }
  return load.apply(this, arguments);
};
