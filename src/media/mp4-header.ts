import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * A header-only reader for the creation time of ISO BMFF files (MP4, MOV, 3GP), the
 * container of nearly all body-camera video. It walks box headers with a handful of
 * small positioned reads (recorders write the moov box at the end, after gigabytes
 * of mdat, which is skipped by seeking), so it costs no child process and no more
 * than a few hundred bytes of I/O: cheap enough for the ingest critical path.
 *
 * The file is hostile until proven otherwise: every size is checked against its
 * parent, offsets only move forward, and the number of boxes read is capped.
 */

/** Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01. */
const MP4_EPOCH_OFFSET_S = 2_082_844_800;
/** Box types that may open an ISO BMFF or QuickTime file. */
const LEADING_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'styp', 'pdin']);
const MAX_BOXES_PER_LEVEL = 4096;
const MAX_TRACKS = 32;

interface Box {
  type: string;
  /** Offset of the payload (after the header). */
  body: number;
  /** Offset just past the box. */
  end: number;
}

class Reader {
  reads = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly deadline: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async at(pos: number, len: number): Promise<Buffer> {
    if (this.signal?.aborted || Date.now() > this.deadline) throw new Mp4StopError();
    const buf = Buffer.alloc(Math.max(0, Math.min(len, this.size - pos)));
    if (buf.length === 0) return buf;
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, pos);
    return buf.subarray(0, bytesRead);
  }

  /** The box whose header starts at `pos`, if it is well-formed and fits in `parentEnd`. */
  async box(pos: number, parentEnd: number): Promise<Box | undefined> {
    const h = await this.at(pos, 16);
    if (h.length < 8) return undefined;
    const size32 = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    let headerSize = 8;
    let size: number;
    if (size32 === 1) {
      if (h.length < 16) return undefined;
      const big = h.readBigUInt64BE(8);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      size = Number(big);
      headerSize = 16;
    } else if (size32 === 0) {
      size = parentEnd - pos; // "to the end of the enclosing box/file"
    } else {
      size = size32;
    }
    if (size < headerSize || pos + size > parentEnd) return undefined;
    return { type, body: pos + headerSize, end: pos + size };
  }

  /** The first child of type `type` in [start, end). */
  async find(start: number, end: number, type: string): Promise<Box | undefined> {
    for (const b of await this.children(start, end)) if (b.type === type) return b;
    return undefined;
  }

  async children(start: number, end: number, until?: string): Promise<Box[]> {
    const out: Box[] = [];
    let pos = start;
    while (pos + 8 <= end && out.length < MAX_BOXES_PER_LEVEL) {
      const b = await this.box(pos, end);
      if (!b) break;
      out.push(b);
      if (b.type === until) break;
      pos = b.end;
    }
    return out;
  }

  /** creation_time of a full box laid out like mvhd/mdhd: version, flags, then the time. */
  async timeOf(b: Box): Promise<Date | null> {
    const v = await this.at(b.body, 12);
    if (v.length < 8) return null;
    let secs: number;
    if (v[0] === 1) {
      if (v.length < 12) return null;
      secs = Number(v.readBigUInt64BE(4));
    } else {
      secs = v.readUInt32BE(4);
    }
    return mp4Time(secs);
  }
}

class Mp4StopError extends Error {}

/** Seconds since 1904 as a Date; null for 0 (never set) and for nonsense. */
export function mp4Time(secs: number): Date | null {
  if (!Number.isFinite(secs) || secs <= 0) return null;
  const ms = (secs - MP4_EPOCH_OFFSET_S) * 1000;
  // Beyond year 9999 a clock is broken, not early.
  if (ms > Date.UTC(9999, 11, 31)) return null;
  return new Date(ms);
}

/**
 * The creation time in the movie header (mvhd), else in the first track media header
 * (mdhd) that has one: the same values ffprobe reports as format and stream
 * creation_time.
 *
 * Returns undefined when the file is not ISO BMFF (ask ffprobe instead), null when
 * it is but has no usable time (no moov: a truncated recording; or a zero time).
 * Never throws: unreadable, vanished, aborted or out of time all mean null.
 */
export async function readMp4CreationTime(
  file: string,
  opts: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<Date | null | undefined> {
  let fh: FileHandle | undefined;
  try {
    // O_NONBLOCK: opening a FIFO planted on a recorder must not block a libuv thread
    // forever; for regular files the flag changes nothing.
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const r = new Reader(fh, st.size, Date.now() + opts.timeoutMs, opts.signal);
    const first = await r.box(0, st.size);
    if (!first || !LEADING_BOXES.has(first.type)) return undefined;

    const moov = (await r.children(0, st.size, 'moov')).find((b) => b.type === 'moov');
    if (!moov) return null;
    const inMoov = await r.children(moov.body, moov.end);
    const mvhd = inMoov.find((b) => b.type === 'mvhd');
    const fromMovie = mvhd ? await r.timeOf(mvhd) : null;
    if (fromMovie) return fromMovie;
    for (const trak of inMoov.filter((b) => b.type === 'trak').slice(0, MAX_TRACKS)) {
      const mdia = await r.find(trak.body, trak.end, 'mdia');
      const mdhd = mdia ? await r.find(mdia.body, mdia.end, 'mdhd') : undefined;
      const t = mdhd ? await r.timeOf(mdhd) : null;
      if (t) return t;
    }
    return null;
  } catch {
    return null;
  } finally {
    // Closing a read-only handle can only fail if it is already gone; nothing to undo.
    await fh?.close().catch(() => undefined);
  }
}
