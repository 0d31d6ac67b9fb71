import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { UsbSeenRepo } from '../../src/devices/usb-seen.js';
import { runCliFromSource } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('custody devices unknown / learn / udev-rules (issue 16)', () => {
  it("lists USB devices without a profile, learns one into the station's profiles file, and emits its udev rule", async () => {
    const home = await tempDir();
    const cli = (...args: string[]) => runCliFromSource(['--home', home, '--log-level', 'warn', ...args]);
    expect((await cli('init')).code).toBe(0);

    // Without a station profiles file, learn refuses: the bundled one is never written.
    const refused = await cli('devices', 'learn', 'abcd:0001', '--model', 'DSJ-Y2', '--driver', 'gat947');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/no station profiles file/);

    await appendFile(join(home, 'custody.yaml'), '\ndevices:\n  profilesFile: recorders.yaml\n');
    // What the daemon recorded when the devices were attached.
    const catalog = Catalog.open(join(home, 'catalog.db'));
    const seen = new UsbSeenRepo(catalog.db);
    seen.record({ vendorId: 0xabcd, productId: 0x0001, manufacturer: 'Maker', product: '执法记录仪', serial: 'ZFY0001', interfaceClasses: [8] }, '2026-12-02T01:00:00.000Z');
    seen.record({ vendorId: 0x046d, productId: 0xc077, manufacturer: 'Logitech', product: 'USB Optical Mouse', serial: null, interfaceClasses: [3] }, '2026-12-02T00:00:00.000Z');
    catalog.close();

    const unknown = await cli('devices', 'unknown');
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toMatch(/^abcd:0001\s+Maker\s+执法记录仪\s+ZFY0001\s+mass storage\s+2026-12-02T01:00:00.000Z\s+1$/m);
    expect(unknown.stdout).toMatch(/^046d:c077\s+Logitech\s+USB Optical Mouse\s+-\s+HID/m);

    const learn = await cli(
      'devices', 'learn', 'abcd:0001', '--model', 'DSJ-Y2', '--driver', 'gat947',
      '--param', 'commands.getTime=0x20', '--param', 'password.file=/etc/custody/secrets/dsj-y2', '--param', 'layout.mediaDirs=[DCIM, RECORD]',
    );
    expect(learn.stderr).toBe('');
    expect(learn.code).toBe(0);
    expect(learn.stdout).toMatch(/profile dsj-y2 \(abcd:0001, driver gat947\) added to .*recorders\.yaml \(created from the bundled profiles\)/);
    const text = await readFile(join(home, 'recorders.yaml'), 'utf8');
    expect(text).toMatch(/id: dsj-y2/);
    expect(text).toMatch(/getTime: 0x20|getTime: 32/);
    expect(text).not.toMatch(/password: [^{\n]*[^}\n]$/m);

    const after = await cli('devices', 'unknown', '--json');
    expect((JSON.parse(after.stdout) as Array<{ usbId: string }>).map((d) => d.usbId)).toEqual(['046d:c077']);

    const rules = await cli('devices', 'udev-rules');
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain('# dsj-y2: DSJ-Y2 (learned from USB abcd:0001)');
    expect(rules.stdout).toContain('SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="abcd", ATTR{idProduct}=="0001", GROUP="custody", MODE="0660"');
    expect(rules.stdout).toContain('ENV{CUSTODY_RECORDER}="dsj-y2"');

    const twice = await cli('devices', 'learn', 'abcd:0001', '--model', 'Other', '--driver', 'mass-storage');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/already the model of profile dsj-y2/);
    const badDriver = await cli('devices', 'learn', 'abcd:0002', '--model', 'X', '--driver', 'sg-io');
    expect(badDriver.code).toBe(2);
  });
});
