import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { UsbWatcher } from './usb-adapter.js';

function capture(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

describe('UsbWatcher', () => {
  it.runIf(process.platform === 'linux')('without a USB bus: one warning, no events, and stop is harmless', async () => {
    const dir = await tempDir();
    const { log, lines } = capture();
    const w = new UsbWatcher({ log, busDir: join(dir, 'no-bus'), onAttach: () => undefined, onDetach: () => undefined });
    expect(await w.start()).toBeNull();
    w.stop();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40 });
    expect(lines[0]!.msg).toMatch(/no USB bus .* USB detection is off; recorders are found by their mounts/);
  });
});
