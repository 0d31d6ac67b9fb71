import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { PurgeScheduler, PurgeService, type PurgeReport } from '../../src/retention/index.js';
import { apiRig } from './api-fixtures.js';

const OLD = { recordedStart: '2026-01-10T02:00:00.000Z', ingestedAt: '2026-01-10T06:00:00.000Z' };
const settings = { timezone: 'Asia/Shanghai', months: 6, minDaysAfterIngest: 30, noticeDays: 7, maxPurgeFraction: 1, maxClockJumpDays: 30 };

describe("the daemon's daily purge (issue 7)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at retention.dailyAt local time and then asks for a checkpoint', async () => {
    const rig = await apiRig();
    await rig.seed(OLD);
    const purge = new PurgeService({ catalog: rig.catalog, store: rig.store, settings, log: silentLogger });
    const after: PurgeReport[] = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const scheduler = new PurgeScheduler({
      purge,
      dailyAt: '03:30',
      timezone: 'Asia/Shanghai',
      clock: rig.clock,
      log: silentLogger,
      actor: 'custody:daemon',
      afterRun: async (r) => after.push(r),
    });
    // The rig's clock reads 2026-11-27 08:00Z = 16:00 in Shanghai; 03:30 there is 19:30Z, 11.5 h on.
    scheduler.start();
    await vi.advanceTimersByTimeAsync(11.5 * 3600_000 - 1000);
    expect(purge.runs()).toEqual([]);
    rig.clock.advance(11.5 * 3600_000);
    await vi.advanceTimersByTimeAsync(1000);
    await scheduler.stop();
    expect(purge.runs()).toEqual([expect.objectContaining({ status: 'completed', announced: 1, actor: 'custody:daemon', startedAt: '2026-11-27T19:30:00.000Z' })]);
    expect(after).toHaveLength(1);
    await rig.close();
  });

  it('with retention.dailyAt empty schedules nothing; a failing run is logged, not thrown', async () => {
    const rig = await apiRig();
    const purge = new PurgeService({ catalog: rig.catalog, store: rig.store, settings, log: silentLogger });
    const none = new PurgeScheduler({ purge, dailyAt: '', timezone: 'Asia/Shanghai', clock: rig.clock, log: silentLogger, actor: 'd' });
    none.start();
    await none.stop();
    expect(purge.runs()).toEqual([]);
    const broken = new PurgeScheduler({
      purge: { execute: () => Promise.reject(new Error('disk gone')) } as unknown as PurgeService,
      dailyAt: '03:30',
      timezone: 'Asia/Shanghai',
      clock: rig.clock,
      log: silentLogger,
      actor: 'd',
    });
    expect(await broken.runOnce()).toBeNull();
    await rig.close();
  });
});
