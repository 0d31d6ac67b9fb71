// Module hooks for record-imports.mjs (they run on the loader thread).
import { appendFileSync } from 'node:fs';

let file;

export function initialize(data) {
  file = data.file;
  if (!file) throw new Error('RECORD_IMPORTS_FILE is not set');
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\n');
  return r;
}
