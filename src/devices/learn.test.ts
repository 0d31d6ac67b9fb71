import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { Catalog } from '../catalog/index.js';
import { learnModel } from './learn.js';
import { BUNDLED_PROFILES_FILE, loadProfiles } from './profiles.js';
import { udevRules } from './udev.js';
import { usbStrings, UsbSeenRepo, worthRecording } from './usb-seen.js';

describe('learning a recorder model (issue 16)', () => {
  it('records the USB devices seen, and lists those no profile claims', async () => {
    const dir = await tempDir();
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    try {
      const repo = new UsbSeenRepo(catalog.db);
      repo.record({ vendorId: 0xabcd, productId: 0x0001, manufacturer: 'Maker', product: '执法记录仪', serial: 'S1', interfaceClasses: [8, 8] }, '2026-12-02T01:00:00.000Z');
      repo.record({ vendorId: 0xabcd, productId: 0x0001, manufacturer: null, product: null, serial: 'S1', interfaceClasses: [8] }, '2026-12-02T02:00:00.000Z');
      repo.record({ vendorId: 0x046d, productId: 0xc077, manufacturer: 'Logitech', product: 'Mouse', serial: null, interfaceClasses: [3] }, '2026-12-02T01:30:00.000Z');
      expect(repo.list()).toEqual([
        { vendorId: 0xabcd, productId: 1, usbId: 'abcd:0001', manufacturer: 'Maker', product: '执法记录仪', serial: 'S1', interfaceClasses: [8], firstSeen: '2026-12-02T01:00:00.000Z', lastSeen: '2026-12-02T02:00:00.000Z', timesSeen: 2 },
        expect.objectContaining({ usbId: '046d:c077', serial: null, interfaceClasses: [3], timesSeen: 1 }),
      ]);
      const site = join(dir, 'recorders.yaml');
      await learnModel(site, { usbId: 'ABCD:0001', model: 'DSJ-Y2', driver: 'gat947', params: [] });
      expect(repo.unknown(loadProfiles(site)).map((d) => d.usbId)).toEqual(['046d:c077']);
      expect(worthRecording({ interfaceClasses: [9] })).toBe(false);
      expect(worthRecording({ interfaceClasses: [8] })).toBe(true);
    } finally {
      catalog.close();
    }
  });

  it("writes a gat947 profile into the station's file (a copy of the bundled one when there is none), keeping comments", async () => {
    const dir = await tempDir();
    const site = join(dir, 'recorders.yaml');
    const bundledBefore = await readFile(BUNDLED_PROFILES_FILE, 'utf8');
    const r = await learnModel(site, {
      usbId: 'abcd:5678',
      model: 'DSJ-Y2',
      driver: 'gat947',
      params: ['commands.getTime=0x20', 'password.file=/etc/custody/secrets/dsj-y2', 'layout.mediaDirs=[DCIM, RECORD]', 'unknownIsNotReady=false'],
    });
    expect(r.created).toBe(true);
    expect(r.profile).toMatchObject({
      id: 'dsj-y2',
      model: 'DSJ-Y2',
      usb: ['abcd:5678'],
      driver: 'gat947',
      unknownIsNotReady: false,
      layout: { mediaDirs: ['DCIM', 'RECORD'] },
      gat947: { commands: { getTime: 0x20 }, password: { file: '/etc/custody/secrets/dsj-y2' } },
    });
    const text = await readFile(site, 'utf8');
    expect(text).toContain('# Recorder model profiles');
    expect(text).toContain('learned by custody devices learn');
    const set = loadProfiles(site);
    expect(set.get('custody-simulated')).not.toBeNull();
    expect(set.byUsb(0xabcd, 0x5678)?.id).toBe('dsj-y2');
    // The package's file is never written.
    expect(await readFile(BUNDLED_PROFILES_FILE, 'utf8')).toBe(bundledBefore);
    await expect(learnModel(BUNDLED_PROFILES_FILE, { usbId: 'abcd:9999', model: 'X', driver: 'gat947', params: [] })).rejects.toThrow(/shipped with custody/);

    // A mass-storage model next to it; then udev rules for both.
    const m = await learnModel(site, { usbId: '1a2b:3c4d', model: 'DSJ-Y2', driver: 'mass-storage', params: ['layout.mediaDirs=[DCIM]'] });
    expect(m.profile).toMatchObject({ id: 'dsj-y2-1a2b-3c4d', driver: 'folder', identity: ['usb-serial', 'file-name'] });
    const rules = udevRules(loadProfiles(site));
    expect(rules).toContain('ATTR{idVendor}=="abcd", ATTR{idProduct}=="5678", GROUP="custody", MODE="0660"');
    expect(rules).toContain('ATTRS{idVendor}=="1a2b", ATTRS{idProduct}=="3c4d", ENV{CUSTODY_RECORDER}="dsj-y2-1a2b-3c4d"');
    expect(rules).toContain('/usr/bin/systemd-mount --no-block --collect');
  });

  it('refuses what would make a bad or unsafe profile, and then changes nothing', async () => {
    const dir = await tempDir();
    const site = join(dir, 'recorders.yaml');
    await learnModel(site, { usbId: 'abcd:0001', model: 'A', driver: 'gat947', params: [] });
    const before = await readFile(site, 'utf8');
    const bad = [
      [{ usbId: 'abcd:0001', model: 'B', driver: 'gat947', params: [] }, /already the model of profile a/],
      [{ usbId: 'abcd', model: 'B', driver: 'gat947', params: [] }, /VID:PID/],
      [{ usbId: 'abcd:0002', model: 'B', driver: 'gat947', params: ['password=hunter2'] }, /never goes into the profiles file/],
      [{ usbId: 'abcd:0002', model: 'B', driver: 'gat947', params: ['transport=tcp'] }, /needs tcp.host/],
      [{ usbId: 'abcd:0002', model: 'B', driver: 'gat947', params: ['commands.setMsdc=999'] }, /setMsdc/],
      [{ usbId: 'abcd:0002', model: 'B', driver: 'mass-storage', params: ['commands.getTime=1'] }, /not a profile setting of a mass-storage model/],
      [{ usbId: 'abcd:0002', model: 'B', driver: 'gat947', params: ['usb=[]'] }, /command's own arguments/],
    ] as const;
    for (const [req, msg] of bad) await expect(learnModel(site, { ...req, params: [...req.params] })).rejects.toThrow(msg);
    expect(await readFile(site, 'utf8')).toBe(before);
  });

  it("reads a device's strings from sysfs by its port path, and only if the address still matches", async () => {
    const sys = await tempDir();
    const dev = join(sys, 'bus', 'usb', 'devices', '1-2.4');
    await mkdir(dev, { recursive: true });
    await writeFile(join(dev, 'manufacturer'), 'Maker\n');
    await writeFile(join(dev, 'product'), 'DSJ-Y2\n');
    await writeFile(join(dev, 'serial'), 'ZFY0001\n');
    await writeFile(join(dev, 'devnum'), '7\n');
    const ref = { vendorId: 1, productId: 2, busNumber: 1, deviceAddress: 7, portNumbers: [2, 4] };
    expect(await usbStrings(ref, sys)).toEqual({ manufacturer: 'Maker', product: 'DSJ-Y2', serial: 'ZFY0001' });
    expect(await usbStrings({ ...ref, deviceAddress: 8 }, sys)).toEqual({ manufacturer: null, product: null, serial: null });
    expect(await usbStrings({ ...ref, portNumbers: [] }, sys)).toEqual({ manufacturer: null, product: null, serial: null });
  });
});
