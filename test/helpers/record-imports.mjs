// Preload (node --import): record every module the process resolves, one URL a line,
// in the file named by RECORD_IMPORTS_FILE. Used to prove what `custody` loads at start.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS_FILE } });
