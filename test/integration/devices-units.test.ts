import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BUNDLED_PROFILES_FILE, parseProfiles, udevRules } from '../../src/devices/index.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const file = (p: string): string => new URL(p, root).pathname;

async function which(bin: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
}

describe('service files (issue 4)', () => {
  it('systemd units pass systemd-analyze verify', async (ctx) => {
    if (!(await which('systemd-analyze'))) {
      console.warn('systemd-analyze not found: unit files not verified here');
      ctx.skip();
    }
    const r = await run('systemd-analyze', ['verify', file('systemd/custody.service'), file('systemd/custody-ingest@.service')]).catch((e: { stderr: string; code: number }) => e);
    expect('code' in r ? r.stderr : '').toBe('');
  });

  it('the daemon unit restarts on failure and is hardened', () => {
    const unit = readFileSync(file('systemd/custody.service'), 'utf8');
    for (const line of [
      'User=custody',
      'Restart=on-failure',
      'NoNewPrivileges=true',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/custody -/media -/run/media',
      'PrivateTmp=true',
      'KillSignal=SIGTERM',
      'ExecStart=/usr/bin/env custody daemon',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
  });

  it('scripts/install.sh parses, and its --check mode verifies the units', async () => {
    await run('bash', ['-n', file('scripts/install.sh')]);
    const r = await run('bash', [file('scripts/install.sh'), '--check']);
    expect(r.stdout).toMatch(/unit files (verified|not verified)/);
  });

  it('the shipped udev rules are what `custody devices udev-rules` makes from the shipped profiles', () => {
    const profiles = parseProfiles(readFileSync(BUNDLED_PROFILES_FILE, 'utf8'), 'config/recorders.yaml');
    expect(readFileSync(file('udev/70-custody-recorders.rules'), 'utf8')).toBe(udevRules(profiles));
  });

  it('udev rules give the service group the device and mount its filesystems for the daemon', () => {
    const profiles = parseProfiles('profiles:\n  - { id: x1, name: Vendor X1, usb: ["2a7c:0b01"] }\n', 'site.yaml');
    const rules = udevRules(profiles, { user: 'custody', group: 'custody', mountDir: '/media/custody' });
    expect(rules).toContain('SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="2a7c", ATTR{idProduct}=="0b01", GROUP="custody", MODE="0660"');
    expect(rules).toContain('SUBSYSTEM=="block", ENV{ID_FS_USAGE}=="filesystem", ATTRS{idVendor}=="2a7c", ATTRS{idProduct}=="0b01", ENV{CUSTODY_RECORDER}="x1"');
    expect(rules).toMatch(/RUN\{program\}\+="\/usr\/bin\/systemd-mount --no-block --collect --options=\$env\{CUSTODY_MOUNT_OPTS\} \$devnode \/media\/custody\/%k"/);
    expect(rules).not.toMatch(/No profile names a USB id/);
  });
});
