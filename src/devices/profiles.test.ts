import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { BUNDLED_PROFILES_FILE, loadProfiles, parseProfiles, usbKey } from './profiles.js';

const site = `
profiles:
  - id: vendor-x1
    name: Vendor X1
    model: X1
    usb: ["2A7C:0B01", "2a7c:0b02"]
    layout: { mediaDirs: [DCIM, RECORD] }
    namePattern: '^(?<serial>[A-Z0-9]+)_\\d{14}_\\d{4}\\.'
    identity: [usb-serial, file-name]
  - id: sim
    name: simulated
    detectByStatusFile: true
    status: { source: status-file, file: RECORDER.JSON }
    clockSync: true
`;

describe('recorder profiles', () => {
  it('ships a valid config/recorders.yaml with the simulated recorder and a generic profile', () => {
    const p = loadProfiles(BUNDLED_PROFILES_FILE);
    expect(p.get('custody-simulated')).toMatchObject({ driver: 'folder', detectByStatusFile: true, clockSync: true, status: { source: 'status-file', file: 'RECORDER.JSON' } });
    expect(p.get('generic-mass-storage')).toMatchObject({ driver: 'folder', status: { source: 'none' }, identity: ['usb-serial', 'file-name'] });
    expect(p.statusFiles).toEqual(['RECORDER.JSON']);
    expect(loadProfiles()).toMatchObject({ source: BUNDLED_PROFILES_FILE });
  });

  it('fills defaults and matches by USB id, case-insensitively', () => {
    const p = parseProfiles(site, 'site.yaml');
    const x1 = p.get('vendor-x1')!;
    expect(x1).toMatchObject({ driver: 'folder', usb: ['2a7c:0b01', '2a7c:0b02'], status: { source: 'none' }, clockSync: false, detectByStatusFile: false });
    expect(p.byUsb(0x2a7c, 0x0b01)).toBe(x1);
    expect(p.byUsb(0x2a7c, 0x0b02)).toBe(x1);
    expect(p.byUsb(0x2a7c, 0x0b03)).toBeNull();
    expect(usbKey(0x2a7c, 0x0b01)).toBe('2a7c:0b01');
    expect(p.get('sim')!.identity).toEqual(['status-file']);
  });

  it('matches a folder by the status file at its root', async () => {
    const p = parseProfiles(site, 'site.yaml');
    const dir = await tempDir();
    await mkdir(join(dir, 'a'));
    expect(await p.byStatusFile(join(dir, 'a'))).toBeNull();
    await writeFile(join(dir, 'a', 'RECORDER.JSON'), '{}');
    expect((await p.byStatusFile(join(dir, 'a')))?.id).toBe('sim');
  });

  it('reports every problem of a bad profiles file at once', () => {
    const bad = `
profiles:
  - id: A
    name: upper-case id
    usb: ["xyz"]
  - id: b
    name: b
    usb: ["0001:0002"]
    namePattern: "("
  - id: c
    name: c
    usb: ["0001:0002"]
    identity: [file-name]
    detectByStatusFile: true
    surprise: 1
`;
    let err: unknown;
    try {
      parseProfiles(bad, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/profiles\.0\.id/);
    expect(problems).toMatch(/profiles\.0\.usb\.0: must be "vvvv:pppp"/);
    expect(problems).toMatch(/profiles\.1\.namePattern: not a valid regular expression/);
    expect(problems).toMatch(/profiles\.2.*surprise|Unrecognized key.*surprise/);
  });

  it('refuses a USB id claimed twice, and status detection without a status file', () => {
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, usb: ["0001:0002"] }\n  - { id: b, name: b, usb: ["0001:0002"] }\n', 'x')).toThrow(/already claimed by profile a/);
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, detectByStatusFile: true }\n', 'x')).toThrow(/needs status.source "status-file"/);
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, identity: [file-name], namePattern: "^x" }\n', 'x')).toThrow(/named group "serial"/);
    expect(() => parseProfiles('profiles: [', 'x')).toThrow(/not valid YAML/);
    expect(() => loadProfiles('/nonexistent/recorders.yaml')).toThrow(/cannot read recorder profiles/);
  });

  it('takes GA/T 947.4 parameters for driver gat947 (issue 16): hex opcodes, command numbers, a password secret, defaults from the reference', () => {
    const p = parseProfiles(
      `
profiles:
  - id: dsj-a
    name: model A
    driver: gat947
    usb: ["abcd:0001"]
    unknownIsNotReady: false
    gat947:
      scsi: { writeOpcode: 0xFA, readOpcode: 0xFC }
      commands: { readBattery: 0x09, getTime: 0x20, getSdStatus: null }
      zfyInfoLayout: "89"
      password: { file: /etc/custody/secrets/dsj-a }
  - id: dsj-b
    name: model B (Android)
    driver: gat947
    gat947: { transport: tcp, tcp: { host: 192.168.8.1, port: 9000 }, password: { env: DSJ_B_PASSWORD } }
  - id: dsj-c
    name: model C, defaults
    driver: gat947
`,
      'site.yaml',
    );
    expect(p.get('dsj-a')).toMatchObject({
      unknownIsNotReady: false,
      gat947: {
        transport: 'usb',
        scsi: { writeOpcode: 0xfa, writeCode: 0x82, readOpcode: 0xfc, readCode: 0x81 },
        commands: { getIdCode: 2, getDevInfo: 3, syncDevTime: 5, setMsdc: 6, readBattery: 9, getSdStatus: null, getTime: 0x20, getReturnStatus: 0x0e },
        zfyInfoLayout: '89',
        password: { file: '/etc/custody/secrets/dsj-a' },
      },
    });
    expect(p.get('dsj-b')?.gat947).toMatchObject({ transport: 'tcp', tcp: { host: '192.168.8.1', port: 9000, timeoutMs: 3000, lengthOrder: 'be' } });
    expect(p.get('dsj-c')?.gat947).toBeUndefined();
    expect(p.get('dsj-c')?.unknownIsNotReady).toBeUndefined();
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, driver: folder, gat947: {} }\n', 'x')).toThrow(/need driver "gat947"/);
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, driver: gat947, gat947: { transport: tcp } }\n', 'x')).toThrow(/needs tcp.host and tcp.port/);
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, driver: gat947, gat947: { password: "plain" } }\n', 'x')).toThrow(/gat947.password/);
    expect(() => parseProfiles('profiles:\n  - { id: a, name: a, driver: gat947, gat947: { commands: { setMsdc: 300 } } }\n', 'x')).toThrow(/setMsdc/);
  });

  it('ships no invented vendor id: no bundled profile claims a USB id', () => {
    expect(loadProfiles(BUNDLED_PROFILES_FILE).profiles.flatMap((p) => p.usb)).toEqual([]);
  });
});
