import cliProgress from 'cli-progress';
import type { SessionProgress } from '../ingest/index.js';

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** Progress bars on stderr, one per recorder; a no-op when stderr is not a terminal. */
export class IngestProgressBars {
  private readonly multi: cliProgress.MultiBar | null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(enabled: boolean) {
    this.multi = enabled
      ? new cliProgress.MultiBar(
          {
            stream: process.stderr,
            clearOnComplete: false,
            hideCursor: true,
            format: ' {serial} |{bar}| {filesDone}/{filesTotal} files | {mbDone}/{mbTotal} MB | {rate} MB/s | ETA {eta_formatted}',
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  update(p: SessionProgress): void {
    if (!this.multi) return;
    let bar = this.bars.get(p.sessionId);
    const payload = {
      serial: p.serial ?? '?',
      filesDone: p.filesDone,
      filesTotal: p.filesTotal,
      mbDone: mb(p.bytesDone),
      mbTotal: mb(p.bytesTotal),
      rate: mb(p.rate),
    };
    if (!bar) {
      bar = this.multi.create(Math.max(1, p.bytesTotal), p.bytesDone, payload);
      this.bars.set(p.sessionId, bar);
    }
    bar.setTotal(Math.max(1, p.bytesTotal));
    bar.update(p.bytesDone, payload);
  }

  stop(): void {
    this.multi?.stop();
  }
}
