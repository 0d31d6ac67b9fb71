import type { Command } from 'commander';
import { errorMessage } from '../../core/index.js';
import { runDoctor, type CheckStatus, type DoctorCheck } from '../../monitoring/index.js';
import type { Catalog } from '../../catalog/index.js';
import { cliStation, EXIT_PROBLEM, globals, output } from '../context.js';

const MARK: Record<CheckStatus, string> = { ok: '✓ ok     ', warn: '! warn   ', fail: '✗ FAIL   ', unknown: '? unknown', skipped: '- skipped' };
const MARK_ZH: Record<CheckStatus, string> = { ok: '正常', warn: '注意', fail: '需处理', unknown: '未知', skipped: '未配置' };

/** The human report: each check in English with its Chinese name; what is not ok also in Chinese, with what to do in both. */
export function doctorText(home: string, checks: DoctorCheck[]): string {
  const lines = [`custody doctor: ${home} (采集站检查)`];
  for (const c of checks) {
    lines.push(`  ${MARK[c.status]}  ${c.title} (${c.titleZh}, ${MARK_ZH[c.status]}): ${c.detail}`);
    if (c.status !== 'ok' && c.status !== 'skipped') {
      lines.push(`               ${c.detailZh}`);
      if (c.fix) lines.push(`               fix: ${c.fix}`);
      if (c.fixZh) lines.push(`               处理：${c.fixZh}`);
    }
  }
  const fail = checks.filter((c) => c.status === 'fail').length;
  const warn = checks.filter((c) => c.status === 'warn' || c.status === 'unknown').length;
  lines.push(
    fail + warn === 0
      ? 'Nothing to fix (无需处理).'
      : `${fail} to fix, ${warn} to look at (${fail} 项需处理，${warn} 项需关注).`,
  );
  return lines.join('\n');
}

/**
 * `custody doctor [--json]`: checks the station — permissions of the home, catalog and
 * key, free space, the workstation's clock synchronisation, USB and mount access,
 * Redis and the vault (S3) when configured, the last catalog snapshot, the rolling
 * verification — and says what to fix. Exit 1 when a check fails. It changes nothing:
 * the catalog is opened read-only.
 */
export async function doctorCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const station = cliStation(g, { readonlyCatalog: true });
  let catalog: Catalog | null = null;
  let catalogError: string | null = null;
  try {
    catalog = station.catalog();
  } catch (e) {
    catalogError = errorMessage(e);
  }
  try {
    const checks = await runDoctor({ config: station.config, catalog, catalogError, store: () => station.store() });
    const ok = !checks.some((c) => c.status === 'fail');
    output(g, { ok, home: station.config.home, checks }, doctorText(station.config.home, checks));
    if (!ok) process.exitCode = EXIT_PROBLEM;
  } finally {
    await station.close();
  }
}
