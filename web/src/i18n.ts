import { createI18n } from 'vue-i18n';
import en from './locales/en.json';
import zhCN from './locales/zh-CN.json';

export type Locale = 'zh-CN' | 'en';
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];
const STORED = 'custody.locale';

function initial(): Locale {
  const s = localStorage.getItem(STORED);
  return s === 'en' ? 'en' : 'zh-CN';
}

/** zh-CN first; English second. Every visible string is in locales/*.json. */
export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: import.meta.env.DEV,
  fallbackWarn: import.meta.env.DEV,
});

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l;
  localStorage.setItem(STORED, l);
  document.documentElement.lang = l;
}
document.documentElement.lang = initial();
