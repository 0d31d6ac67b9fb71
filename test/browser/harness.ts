/**
 * The console's browser tests (issue 15): Debian's chromium driven by playwright-core,
 * against the built daemon serving the built console. A missing chromium or build is a
 * failure in CI (process.env.CI) and elsewhere leaves the browser tests out with a message.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { CLI, runCli, waitFor } from '../helpers/cli.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { AXE_RUN } from './in-page.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CONSOLE_INDEX = fileURLToPath(new URL('../../dist/console/index.html', import.meta.url));
export const ARTIFACTS = fileURLToPath(new URL('../../test-results/console/', import.meta.url));

/** Why the browser tests cannot run here (empty: they can). */
export function browserProblems(): string[] {
  const p: string[] = [];
  if (!existsSync(CHROMIUM)) p.push(`no chromium at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk, or set CHROMIUM_PATH)`);
  if (!existsSync(CLI)) p.push(`${CLI} is missing: run npm run build`);
  if (!existsSync(CONSOLE_INDEX)) p.push(`${CONSOLE_INDEX} is missing: run npm run build`);
  return p;
}

/**
 * A headless chromium. playwright-core starts it on a fresh, temporary profile of its
 * own (removed on close); each browser context is a separate sign-in (its own cookies).
 */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Set a console password: the CLI reads it from stdin when stdin is not a terminal. */
export async function setPassword(home: string, name: string, password: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'users', 'set-password', name, '--home', home], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`custody users set-password ${name} failed (${code}): ${err}`);
}

/**
 * The built daemon for a whole test file (test/helpers/daemon.ts stops its daemons after
 * each test; these flows share one station across tests and stop it in afterAll).
 */
export interface Station {
  home: string;
  media: string;
  url: string;
  daemon: Daemon;
  /** A bearer token of an auditor, for checking what the API says beside the page. */
  token: string;
  stop(): Promise<void>;
}

/** A station: init, users with passwords, and the built daemon watching `media` for recorders. */
export async function station(dir: string, users: Array<{ name: string; role: string; password: string; unit?: string }>, env: Record<string, string> = {}): Promise<Station> {
  const home = join(dir, 'home');
  const media = join(dir, 'media');
  await mkdir(media, { recursive: true });
  const init = await runCli(['init', '--home', home]);
  if (init.code !== 0) throw new Error(`custody init failed: ${init.stderr}`);
  for (const u of users) {
    const add = await runCli(['users', 'add', '--name', u.name, '--role', u.role, ...(u.unit ? ['--unit', u.unit] : []), '--json', '--home', home]);
    if (add.code !== 0) throw new Error(`custody users add ${u.name} failed: ${add.stderr}`);
    await setPassword(home, u.name, u.password);
  }
  const auditor = await runCli(['users', 'add', '--name', 'test-auditor', '--role', 'auditor', '--json', '--home', home]);
  const { token } = JSON.parse(auditor.stdout) as { token: string };
  const daemon = startDaemon(home, { CUSTODY_DEVICES_MOUNT_ROOTS: media, CUSTODY_API_PORT: '0', CUSTODY_DEVICES_RESCAN_SECONDS: '2', CUSTODY_DEVICES_USB: 'false', ...env }, { acrossTests: true });
  const started = await waitFor('the daemon to start', async () => daemon.lines.find((l) => l.msg === 'custody daemon started'), 30_000, 20).catch((e: unknown) => {
    throw new Error(`${String(e)}\n${daemon.stderr()}`);
  });
  const url = started.api as string;
  return {
    home,
    media,
    url,
    daemon,
    token,
    async stop() {
      await daemon.stop();
    },
  };
}

/** Sign in on the sign-in page as a person would: by the fields' labels and the button's name. */
export async function signIn(page: Page, url: string, name: string, password: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.getByLabel('用户名').fill(name);
  await page.getByLabel('密码', { exact: true }).fill(password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

/** Gzipped bytes of every JS and CSS response while `load` runs. */
export async function weigh(page: Page, load: () => Promise<void>): Promise<{ files: Array<{ url: string; raw: number; gzip: number }>; gzip: number }> {
  const pending: Array<Promise<{ url: string; raw: number; gzip: number } | null>> = [];
  const onResponse = (r: Response): void => {
    const type = r.headers()['content-type'] ?? '';
    if (!/javascript|text\/css/.test(type)) return;
    pending.push(r.body().then((b) => ({ url: new URL(r.url()).pathname, raw: b.length, gzip: gzipSync(b, { level: 9 }).length })).catch(() => null));
  };
  page.on('response', onResponse);
  await load();
  await page.waitForLoadState('load');
  // The board keeps its event stream open, so the network is never idle: wait until no
  // script or stylesheet has come for half a second.
  let seen = -1;
  while (seen !== pending.length) {
    seen = pending.length;
    await new Promise((r) => setTimeout(r, 500));
  }
  page.off('response', onResponse);
  const files = (await Promise.all(pending)).filter((f): f is { url: string; raw: number; gzip: number } => f !== null);
  return { files, gzip: files.reduce((a, f) => a + f.gzip, 0) };
}

let axeSource: string | undefined;

/** axe-core's serious and critical violations on the page as it is now. */
/** Resolves (in the page) once two frames have passed and every animation has finished. */
const AT_REST = `(async () => {
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  // An animation that loops for ever (a moving progress bar, a spinner) never ends: not waited for.
  const ending = document.getAnimations().filter((a) => a.effect?.getComputedTiming().endTime !== Infinity);
  await Promise.all(ending.map((a) => a.finished.catch(() => undefined)));
})()`;

export async function axeViolations(page: Page): Promise<Array<{ id: string; impact: string | null; help: string; nodes: string[] }>> {
  axeSource ??= await readFile(fileURLToPath(import.meta.resolve('axe-core/axe.min.js')), 'utf8');
  // Judge the page at rest: a dialog fading in (Element Plus's transitions) is half
  // transparent and not yet named for a moment, which axe would report as low contrast or
  // a nameless dialog depending on the machine's speed. Wait a frame for a transition to
  // begin, then for every running animation and transition that ends to finish.
  await page.evaluate(AT_REST);
  // The console's CSP allows only its own scripts: axe is evaluated, not added as a tag.
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(AXE_RUN)) as Array<{ id: string; impact: string | null; help: string; nodes: string[] }>;
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A screenshot of the whole page, kept as a test artifact (test-results/console, not committed). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
