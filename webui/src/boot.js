// Runs before the first paint (a plain, blocking script, so no inline script is
// needed and a strict Content-Security-Policy works): applies the stored theme
// and language so the page does not flash the wrong ones.
(function () {
  try {
    var t = localStorage.getItem('aihub.theme');
    if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
    var l = localStorage.getItem('aihub.lang') || ((navigator.language || '').toLowerCase().indexOf('zh') === 0 ? 'zh' : 'en');
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  } catch (e) { /* storage disabled: system theme, English */ }
})();
