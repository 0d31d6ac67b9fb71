import { once } from 'node:events';
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { LedgerError } from '../core/index.js';
import { canonicalLine, type Ledger } from './ledger.js';

export interface ExportOptions {
  ledger: Ledger;
  /** First seq, inclusive (default 1). */
  from?: number;
  /** Last seq, inclusive (default: the head). */
  to?: number;
  out: Writable;
  signal?: AbortSignal;
}

export interface ExportResult {
  entries: number;
  /** Seq of the first and last entry written (null when none was). */
  first: number | null;
  last: number | null;
  /** Hash of the last entry written: what an auditor anchors the export to. */
  lastHash: string | null;
  bytes: number;
  /** SHA-256 of the bytes written. */
  sha256: string;
}

/** Lines are gathered into chunks of about this size before a write. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Write ledger entries from..to as JSON Lines: each entry's canonical line
 * (RFC 8785) and a newline, the same bytes as in sealed segments, so anyone can
 * check the export with docs/ledger.md alone. Streams the ledger and honours the
 * writable's backpressure. Does not end `out` (the caller owns it).
 */
export async function exportLedger(opts: ExportOptions): Promise<ExportResult> {
  const from = opts.from ?? 1;
  const to = opts.to ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(from) || from < 1) throw new LedgerError('LEDGER_BAD_RANGE', `from must be a positive integer, got ${from}`);
  if (!Number.isSafeInteger(to) || to < from) throw new LedgerError('LEDGER_BAD_RANGE', `to must be an integer not below from (${from}), got ${to}`);

  const hash = createHash('sha256');
  const result: ExportResult = { entries: 0, first: null, last: null, lastHash: null, bytes: 0, sha256: '' };
  let pending: string[] = [];
  let pendingBytes = 0;

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const chunk = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingBytes = 0;
    hash.update(chunk);
    result.bytes += chunk.length;
    if (!opts.out.write(chunk)) await once(opts.out, 'drain', opts.signal ? { signal: opts.signal } : {});
  };

  for (const e of opts.ledger.entries(from, to)) {
    opts.signal?.throwIfAborted();
    const line = canonicalLine(e) + '\n';
    pending.push(line);
    pendingBytes += line.length;
    result.entries++;
    result.first ??= e.seq;
    result.last = e.seq;
    result.lastHash = e.hash;
    if (pendingBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  result.sha256 = hash.digest('hex');
  return result;
}
