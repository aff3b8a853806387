// Theme and language pickers (header and sign-in page).
import { useState } from 'preact/hooks';
import { lang, setLang, t } from './i18n.js';
import { setThemeChoice, themeChoice } from './theme.js';

export function Prefs({ onChange }) {
  const [theme, setTheme] = useState(themeChoice());
  return (
    <div class="prefs">
      <label class="sr-only" for="pref-theme">{t('Theme')}</label>
      <select id="pref-theme" class="select-compact" value={theme} title={t('Theme')}
        onChange={(e) => { const v = e.currentTarget.value; setTheme(v); setThemeChoice(v); onChange?.(); }}>
        <option value="system">◐ {t('System')}</option>
        <option value="light">☀ {t('Light')}</option>
        <option value="dark">☾ {t('Dark')}</option>
      </select>
      <label class="sr-only" for="pref-lang">{t('Language')}</label>
      <select id="pref-lang" class="select-compact" value={lang()} title={t('Language')}
        onChange={(e) => { setLang(e.currentTarget.value); onChange?.(); }}>
        <option value="en">English</option>
        <option value="zh">中文</option>
      </select>
    </div>
  );
}

