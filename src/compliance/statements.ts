import type { Db } from '../catalog/index.js';

/** `prepare` that reuses each statement: the services' SQL is a small fixed set. */
export type Preparer = Pick<Db, 'prepare'>;

export function cachedPreparer(db: Db): Preparer {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  const prepare = (sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  return { prepare: prepare as Db['prepare'] };
}
