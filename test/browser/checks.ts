/**
 * What every console flow checks on each screen (issue 15, 19): a screenshot kept as an
 * artifact and no serious or critical accessibility problem; and the page's own errors
 * in the browser. Kept apart from harness.ts, which scripts outside the test runner
 * (bench:console) also import.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { axeViolations, screenshot } from './harness.js';

/** No serious or critical accessibility problem, and the page's screenshot kept. */
export async function check(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
}

/**
 * The console's own errors in the browser (a script error, a refused resource), but for
 * the refusals a flow provokes on purpose: 401 and 403, and those in `alsoExpected`.
 */
export function watchErrors(page: Page, alsoExpected: number[] = []): string[] {
  const errors: string[] = [];
  const expected = new RegExp(`status of (${[401, 403, ...alsoExpected].join('|')})`);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}
