import { i18n } from '../i18n';
import { ApiError } from './client';

/**
 * An API error as staff read it: a sentence in the page's language from the locale's
 * `errors` table, then the code (so the information centre can look it up). A code
 * without a sentence gets the generic one, still with its code.
 */
export function errorText(e: unknown): string {
  const { t, te } = i18n.global;
  const err = e instanceof ApiError ? e : new ApiError(0, 'INTERNAL', e instanceof Error ? e.message : String(e));
  const key = `errors.${err.code}`;
  const sentence = te(key) ? t(key) : t('errors.generic');
  return t('errors.withCode', { sentence, code: err.code });
}
