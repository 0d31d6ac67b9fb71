import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a module of the project, named relative to the caller's own
 * module (`from`: its import.meta.url): the .js file when built; run from source (tsx,
 * vitest: the caller is a .ts file) the .ts file, loaded through tsx's hooks, which the
 * worker registers first (a worker does not inherit a loader given to the main thread).
 */
export function startModuleWorker(from: string, name: string, workerData: unknown): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), { workerData });
  const worker = new URL(`./${name}.ts`, from).href;
  return new Worker(`import(${JSON.stringify(tsxApi(from))}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); });`, { eval: true, workerData });
}

/** The URL of tsx's ES module API (tsx/esm/api, as an import resolves it), from where `from` would find the package. */
function tsxApi(from: string): string {
  const req = createRequire(from);
  const pkg = req.resolve('tsx/package.json');
  const exports = (req(pkg) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(join(dirname(pkg), exports['./esm/api']!.import.default)).href;
}
