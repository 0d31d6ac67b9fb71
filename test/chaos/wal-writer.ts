/**
 * The fault campaign's WAL checkpoint victim (issue 17): grows a station catalog's
 * write-ahead log with many distinct pages that leave no trace (a scratch table filled,
 * then dropped in the last commit), with autocheckpoint off, then prints "checkpoint"
 * and checkpoints it (TRUNCATE), so the campaign can SIGKILL it in the middle of copying
 * the log back into the database. It is killed only after its last commit, when the
 * catalog says what it said before (its file only has more free pages).
 *
 *   node --import tsx test/chaos/wal-writer.ts CATALOG_DB MEGABYTES
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

const [file, mb] = process.argv.slice(2);
if (!file || !mb) {
  console.error('usage: wal-writer.ts CATALOG_DB MEGABYTES');
  process.exit(2);
}
const db = new Database(file, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 10000');
db.pragma('wal_autocheckpoint = 0');
db.pragma('synchronous = OFF'); // the log's growth needs no fsync; the checkpoint syncs
db.exec('CREATE TABLE IF NOT EXISTS chaos_wal_scratch (b BLOB) STRICT');
const put = db.prepare('INSERT INTO chaos_wal_scratch (b) VALUES (?)');
const fill = db.transaction((n: number) => {
  for (let i = 0; i < n; i++) put.run(randomBytes(3000));
});
const want = Number(mb) * 1024 * 1024;
const wal = (): number => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};
while (wal() < want) fill(256);
db.exec('DROP TABLE chaos_wal_scratch');
const t = Date.now();
process.stdout.write(`checkpoint ${wal()}\n`);
const r = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
process.stdout.write(`done ${Date.now() - t} ${JSON.stringify(r[0])}\n`);
db.close();
