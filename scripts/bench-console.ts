/**
 * npm run bench:console — the console's weight and the dock board's speed, in Chromium.
 *
 * Needs `npm run build` (the daemon and dist/console) and Debian's chromium
 * (CHROMIUM_PATH, default /usr/bin/chromium).
 *
 * 1. First load: every script and stylesheet the browser fetches to show /login, and
 *    then the dock board after signing in, each gzipped (level 9, as a server or proxy
 *    would send it); the budget is 400 KB for the first load (docs/console.md).
 * 2. Event-to-screen latency: BENCH_RECORDERS (default 8) simulated recorders docked
 *    at once under the daemon's mount root, each ingesting BENCH_CLIPS clips of
 *    BENCH_CLIP_MB MB. In the page, on one clock: when each progress event reaches the
 *    board's event-stream listener, and the animation frame in which the board first
 *    shows that event's byte count. latency = shown − received, per event; prints the
 *    median and p95 (an event the board merged into a later frame is not counted: the
 *    later one is). The hop from the daemon to the browser is loopback.
 *
 * Only loopback is used; the station lives in a temp folder removed at the end.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../test/helpers/cli.js';
import { browserProblems, launch, signIn, station, weigh } from '../test/browser/harness.js';

const RECORDERS = Number(process.env.BENCH_RECORDERS ?? 8);
const CLIPS = Number(process.env.BENCH_CLIPS ?? 3);
const CLIP_MB = Number(process.env.BENCH_CLIP_MB ?? 48);
const BUDGET_KB = 400;
const USER = { name: 'bench', role: 'operator', password: 'Bench-console-1' };

/**
 * In the page, before the console's scripts: when each progress event reaches the
 * page's event-stream listener, and the frame in which the board first shows that
 * event's byte count. One clock (performance.now) for both.
 */
const WATCH = `(() => {
  const received = new Map();
  const shown = new Map();
  window.bench = { received, shown };
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, opts) {
    if (type !== 'progress') return add.call(this, type, fn, opts);
    return add.call(this, type, function (e) {
      const d = JSON.parse(e.data);
      const key = d.dockId + ':' + d.bytesDone;
      if (!received.has(key)) received.set(key, performance.now());
      return fn.call(this, e);
    }, opts);
  };
  const note = () => {
    const t = performance.now();
    for (const bar of document.querySelectorAll('[role=progressbar][data-bytes-done]')) {
      const key = bar.closest('[data-dock-id]')?.getAttribute('data-dock-id') + ':' + bar.getAttribute('data-bytes-done');
      if (!shown.has(key)) shown.set(key, t);
    }
  };
  const observe = () => new MutationObserver(() => requestAnimationFrame(note)).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-bytes-done'] });
  if (document.body) observe(); else document.addEventListener('DOMContentLoaded', observe);
})()`;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function main(): Promise<void> {
  const problems = browserProblems();
  if (problems.length > 0) throw new Error(`cannot run: ${problems.join('; ')}`);
  const dir = await mkdtemp(join(tmpdir(), 'custody-bench-console-'));
  const s = await station(dir, [USER], { CUSTODY_INGEST_CONCURRENCY: String(RECORDERS) });
  const browser = await launch();
  try {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    const first = await weigh(page, async () => {
      await page.goto(`${s.url}/login`);
    });
    await signIn(page, s.url, USER.name, USER.password);
    // The board opened afresh by a signed-in browser (nothing cached): its own first load.
    const boardContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1600, height: 1000 }, storageState: await context.storageState() });
    const boardPage = await boardContext.newPage();
    await boardPage.addInitScript(WATCH);
    const board = await weigh(boardPage, async () => {
      await boardPage.goto(`${s.url}/docks`);
      await boardPage.getByRole('heading', { name: '采集看板' }).waitFor();
    });
    await page.close();
    console.log('First load (gzipped JS + CSS, level 9) of /login:');
    for (const f of first.files) console.log(`  ${f.url.padEnd(48)} ${(f.raw / 1024).toFixed(1).padStart(8)} KB  → ${(f.gzip / 1024).toFixed(1).padStart(7)} KB`);
    console.log(`  ${(first.gzip / 1024).toFixed(1)} KB (budget ${BUDGET_KB} KB)`);
    console.log('First load of /docks, signed in:');
    for (const f of board.files) console.log(`  ${f.url.padEnd(48)} ${(f.raw / 1024).toFixed(1).padStart(8)} KB  → ${(f.gzip / 1024).toFixed(1).padStart(7)} KB`);
    console.log(`  ${(board.gzip / 1024).toFixed(1)} KB (budget ${BUDGET_KB} KB)`);

    // Recorders made beside the mount root, then docked together.
    const staged: string[] = [];
    for (let r = 0; r < RECORDERS; r++) {
      const serial = `BENCH${String(r + 1).padStart(2, '0')}`;
      const out = join(dir, `staging-${serial}`);
      const sim = await runCli(['simulate', 'recorder', '--out', out, '--serial', serial, '--clips', String(CLIPS), '--seconds', '1', '--clip-bytes', String(CLIP_MB * 1024 * 1024), '--home', s.home]);
      if (sim.code !== 0) throw new Error(`simulate failed: ${sim.stderr}`);
      staged.push(serial);
    }
    await boardPage.getByText('实时更新中').waitFor();
    await Promise.all(staged.map((serial) => rename(join(dir, `staging-${serial}`), join(s.media, serial))));
    const started = Date.now();
    while ((await boardPage.locator('[data-outcome]').count()) < RECORDERS) {
      if (Date.now() - started > 600_000) throw new Error('the recorders did not all complete within 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const took = (Date.now() - started) / 1000;
    const { received, shown } = (await boardPage.evaluate('({ received: [...window.bench.received], shown: [...window.bench.shown] })')) as {
      received: Array<[string, number]>;
      shown: Array<[string, number]>;
    };
    const shownAt = new Map(shown);
    const latencies: number[] = [];
    for (const [key, t] of received) {
      const seen = shownAt.get(key);
      if (seen !== undefined) latencies.push(seen - t);
    }
    const arrived = new Map(received);
    console.log(`\nDock board, ${RECORDERS} recorders ingesting at once (${CLIPS} × ${CLIP_MB} MB clips each, ${took.toFixed(1)} s until all complete):`);
    console.log(`  progress events ${arrived.size}, shown ${latencies.length} (the rest merged into a later frame)`);
    console.log(`  event-to-screen latency: median ${quantile(latencies, 0.5).toFixed(1)} ms, p95 ${quantile(latencies, 0.95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
    console.log(JSON.stringify({ firstLoadGzipBytes: first.gzip, boardFirstLoadGzipBytes: board.gzip, budgetBytes: BUDGET_KB * 1024, recorders: RECORDERS, events: arrived.size, shown: latencies.length, medianMs: quantile(latencies, 0.5), p95Ms: quantile(latencies, 0.95) }));
    if (first.gzip > BUDGET_KB * 1024 || board.gzip > BUDGET_KB * 1024) process.exitCode = 1;
  } finally {
    await browser.close();
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
