import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, open, symlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceDetection, type DockCandidate, type UndockReason } from '../../src/devices/index.js';
import { capturingLogger } from '../helpers/ledger-vault.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/*
 * A recorder's file system can stop answering: a read held by a pulled cable, a hung card,
 * a device whose sysfs attributes block. Every such call holds one of Node's I/O threads
 * until it returns. Detection must still see mounts go and other recorders come. Named
 * pipes stand in for the file systems that do not answer: opening one for reading waits,
 * in an I/O thread, until something opens it for writing — which the test does when it
 * lets go.
 */

interface Watched {
  detection: DeviceDetection;
  docks: DockCandidate[];
  undocks: Array<{ location: string; reason: UndockReason }>;
  lines: Array<Record<string, unknown>>;
}

const running: DeviceDetection[] = [];
const heldPipes: string[] = [];
afterEach(async () => {
  for (const p of heldPipes.splice(0)) letGo(p);
  for (const d of running.splice(0)) await d.stop();
});

function watch(dir: string, mountinfo: string, stepPatienceMs: number, mountPollMs = 50): Watched {
  const { log, lines } = capturingLogger();
  const docks: DockCandidate[] = [];
  const undocks: Watched['undocks'] = [];
  const detection = new DeviceDetection({
    mountRoots: [join(dir, 'media')],
    dropFolders: [],
    dropSettleMs: 300,
    mountWaitMs: 1000,
    rescanMs: 0,
    mountPollMs,
    stepPatienceMs,
    usb: false,
    statusFiles: [],
    isKnownUsb: () => false,
    log,
    onDock: (c) => docks.push(c),
    onUndock: (location, reason) => undocks.push({ location, reason }),
    mountInfoFile: mountinfo,
    sysRoot: join(dir, 'sys'),
  });
  running.push(detection);
  return { detection, docks, undocks, lines };
}

function mountLine(id: number, dev: string, at: string, source: string): string {
  return `${id} 28 ${dev} / ${at} rw,nosuid,nodev shared:${id} - vfat ${source} rw`;
}

function writeMountInfo(file: string, lines: string[]): void {
  // Written synchronously: with every I/O thread held, an asynchronous write would wait too.
  writeFileSync(file, [`28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw`, ...lines].join('\n') + '\n');
}

function pipeAt(path: string): string {
  execFileSync('mkfifo', [path]);
  heldPipes.push(path);
  return path;
}

/** Whatever waits to read the pipe goes on (and reads `text`). */
function letGo(pipe: string, text = ''): void {
  let fd: number;
  try {
    fd = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return; // nobody is waiting on it (yet, or any more)
  }
  if (text) writeSync(fd, text);
  closeSync(fd);
}

/**
 * Let every held open go on. An open queued behind the held threads has not reached its
 * pipe yet (there is no reader to let go): it is let go once it has.
 */
async function letAllGo(held: Map<string, Promise<FileHandle | null>>): Promise<void> {
  const done = new Set<string>();
  for (const [pipe, h] of held) void h.then(async (f) => {
    await f?.close();
    done.add(pipe);
  });
  await waitFor('every held open to go on', async () => {
    for (const pipe of held.keys()) if (!done.has(pipe)) letGo(pipe);
    return done.size === held.size;
  }, 10_000, 10);
  for (const pipe of held.keys()) heldPipes.splice(heldPipes.indexOf(pipe), 1);
}

async function within<T>(ms: number, p: Promise<T>): Promise<T | 'still waiting'> {
  return Promise.race([p, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms))]);
}

describe('device detection while a file system does not answer', () => {
  it('sees a pulled recorder go while every I/O thread waits on a file system that does not answer', async () => {
    const dir = await tempDir();
    const slot = join(dir, 'media', 'REC1');
    await mkdir(slot, { recursive: true });
    const mountinfo = join(dir, 'mountinfo');
    writeMountInfo(mountinfo, [mountLine(530, '8:17', slot, '/dev/sdb1')]);
    // Patience longer than the test: the undock must not depend on a step being given up.
    const w = watch(dir, mountinfo, 60_000);
    await w.detection.start();
    expect(w.docks.map((d) => d.location)).toEqual([slot]);

    // Every I/O thread (and then some) waits on a read that is not answered.
    const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const held = new Map<string, Promise<FileHandle | null>>();
    for (let i = 0; i < threads + 2; i++) {
      const pipe = pipeAt(join(dir, `held-${i}`));
      held.set(pipe, open(pipe, 'r').catch(() => null));
    }
    // A rescan now waits behind them: the premise of this test.
    const rescan = w.detection.rescanNow();
    expect(await within(300, rescan)).toBe('still waiting');

    // The cable is pulled: the mount leaves the table.
    writeMountInfo(mountinfo, []);
    await waitFor('the undock', async () => w.undocks.length > 0, 3000, 10);
    expect(w.undocks).toEqual([{ location: slot, reason: 'unmounted' }]);
    expect(await within(0, rescan)).toBe('still waiting'); // it was seen without the I/O threads

    await letAllGo(held);
    await rescan;
    // The folder left behind is not taken for the recorder come back.
    expect(w.docks.map((d) => d.location)).toEqual([slot]);
    expect(w.undocks).toHaveLength(1);
  });

  it('a recorder whose USB attributes never answer holds up only its own look: another recorder docks meanwhile, and it docks once they answer', async () => {
    const dir = await tempDir();
    const media = join(dir, 'media');
    const rec1 = join(media, 'REC1');
    const rec2 = join(media, 'REC2');
    await mkdir(rec1, { recursive: true });
    await mkdir(rec2, { recursive: true });
    // A fake sysfs: REC1's storage (8:17) is behind USB 2a7c:0b01, whose serial does not answer.
    const sys = join(dir, 'sys');
    const usbDev = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-2');
    const part = join(usbDev, '1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1');
    await mkdir(part, { recursive: true });
    for (const [k, v] of Object.entries({ idVendor: '2a7c', idProduct: '0b01', busnum: '1', devnum: '9' })) await writeFile(join(usbDev, k), v + '\n');
    const serial = pipeAt(join(usbDev, 'serial'));
    await mkdir(join(sys, 'dev/block'), { recursive: true });
    await symlink(relative(join(sys, 'dev/block'), part), join(sys, 'dev/block/8:17'));
    const mountinfo = join(dir, 'mountinfo');
    writeMountInfo(mountinfo, [mountLine(530, '8:17', rec1, '/dev/sdb1'), mountLine(531, '8:33', rec2, '/dev/sdc1')]);

    const w = watch(dir, mountinfo, 300);
    await w.detection.start();
    expect(w.docks.map((d) => d.location)).toEqual([rec2]);
    expect(w.lines.some((l) => l.msg === 'a file system did not answer device detection in time; detection goes on without waiting for it')).toBe(true);

    // Looked at again meanwhile (a rescan): the look still waiting is not started twice.
    await w.detection.rescanNow();
    expect(w.docks.map((d) => d.location)).toEqual([rec2]);

    letGo(serial, 'ZFY0042\n');
    heldPipes.splice(heldPipes.indexOf(serial), 1);
    await waitFor('REC1 to dock', async () => w.docks.length === 2, 5000, 10);
    expect(w.docks[1]).toMatchObject({ location: rec1, device: '/dev/sdb1', usb: { vendorId: 0x2a7c, productId: 0x0b01, serial: 'ZFY0042' } });
    expect(w.undocks).toEqual([]);
  });

  it('a recorder mounted and pulled between two looks at the mount table is still seen to go', async () => {
    const dir = await tempDir();
    const slot = join(dir, 'media', 'REC1');
    await mkdir(slot, { recursive: true });
    const mountinfo = join(dir, 'mountinfo');
    writeMountInfo(mountinfo, []);
    // Looked at once a second: the mount below comes and goes within one of those seconds.
    const w = watch(dir, mountinfo, 10_000, 1000);
    await w.detection.start();
    await new Promise((r) => setTimeout(r, 1100)); // the poll has read the table without it

    // It is mounted and found at once by a look of its own (as a folder event sets one off)...
    writeMountInfo(mountinfo, [mountLine(530, '8:17', slot, '/dev/sdb1')]);
    await w.detection.rescanNow();
    expect(w.docks.map((d) => d.location)).toEqual([slot]);
    // ...and pulled before the poll has looked: the table reads again exactly as the poll
    // last saw it.
    writeMountInfo(mountinfo, []);
    await waitFor('the undock', async () => w.undocks.length > 0, 3000, 10);
    expect(w.undocks).toEqual([{ location: slot, reason: 'unmounted' }]);
  });
});
