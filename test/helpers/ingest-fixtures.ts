import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Catalog } from '../../src/catalog/catalog.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RecorderDriver, RecorderFile, RecorderHealth, RecorderIdentity } from '../../src/devices/driver.js';
import { IngestService, type IngestSettings } from '../../src/ingest/index.js';
import { FsObjectStore } from '../../src/vault/index.js';
import type { LocalCopier, ObjectStore, PutBody, PutOptions } from '../../src/vault/index.js';

/** Write files (path → bytes or size) under root, with mtimes an hour old so they are settled. */
export async function writeTree(root: string, files: Record<string, Buffer | number>, mtime = new Date(Date.now() - 3600_000)): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, ...rel.split('/'));
    await mkdir(dirname(p), { recursive: true });
    const buf = typeof content === 'number' ? randomBytes(content) : content;
    await writeFile(p, buf);
    await utimes(p, mtime, mtime);
    out[rel] = buf;
  }
  return out;
}

export const settings: IngestSettings = {
  timezone: 'Asia/Shanghai',
  wipeAfterIngest: false,
  wipeRereadSource: true,
  settleSeconds: 2,
  readBufferKb: 64,
  perRecorder: 2,
};

export interface Rig {
  catalog: Catalog;
  store: FsObjectStore;
  service(opts?: { settings?: Partial<IngestSettings>; concurrency?: number; store?: ObjectStore }): IngestService;
  close(): void;
}

export async function rig(dir: string): Promise<Rig> {
  const catalog = Catalog.open(join(dir, 'home', 'catalog.db'));
  const store = new FsObjectStore({ root: join(dir, 'home', 'vault'), fsync: false });
  await store.init();
  return {
    catalog,
    store,
    service: (opts = {}) =>
      new IngestService({
        catalog,
        store: opts.store ?? store,
        log: silentLogger,
        concurrency: opts.concurrency ?? 4,
        settings: { ...settings, ...opts.settings },
      }),
    close: () => catalog.close(),
  };
}

/**
 * The store with each staged copy, by either way ingest stages one (`stage`, and a
 * local copier's `stage` for small files, which also gives `around` the file's path),
 * made through `around`: a test's count, or its fault instead of the copy.
 */
export function aroundStaging(store: ObjectStore, around: <T>(copy: () => Promise<T>, copierPath?: string) => Promise<T>): ObjectStore {
  return Object.create(store, {
    stage: { value: (body: PutBody, opts?: PutOptions) => around(() => store.stage!(body, opts)) },
    localCopier: {
      value: (): LocalCopier => {
        const c = store.localCopier!();
        return { maxBytes: c.maxBytes, stage: (path, opts) => around(() => c.stage(path, opts), path), close: () => c.close() };
      },
    },
  }) as ObjectStore;
}

/**
 * A recorder driver that delegates to a real one and injects the faults of
 * physical recorders (only the recorder is simulated; files and vault are real).
 */
export class FaultyDriver implements RecorderDriver {
  constructor(
    private readonly inner: RecorderDriver,
    private readonly faults: {
      open?: (path: string, stream: Readable, attempt: number) => Readable | Promise<Readable>;
      beforeOpen?: (path: string, attempt: number) => void | Promise<void>;
      present?: () => Promise<boolean>;
    } = {},
  ) {}

  private opens = new Map<string, number>();

  get location(): string {
    return this.inner.location;
  }
  identify(): Promise<RecorderIdentity> {
    return this.inner.identify();
  }
  health(): Promise<RecorderHealth> {
    return this.inner.health();
  }
  listFiles(): AsyncIterable<RecorderFile> {
    return this.inner.listFiles();
  }
  stat(path: string): Promise<RecorderFile> {
    return this.inner.stat(path);
  }
  async open(path: string, opts?: { highWaterMark?: number; signal?: AbortSignal }): Promise<Readable> {
    const attempt = (this.opens.get(path) ?? 0) + 1;
    this.opens.set(path, attempt);
    await this.faults.beforeOpen?.(path, attempt);
    const s = await this.inner.open(path, opts);
    return this.faults.open ? this.faults.open(path, s, attempt) : s;
  }
  localPath(path: string): string | null {
    return this.inner.localPath(path);
  }
  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }
  present(): Promise<boolean> {
    return this.faults.present ? this.faults.present() : this.inner.present();
  }
}
