// Bundles the console with esbuild into dist/:
//   dist/index.html, dist/boot.js    (no-cache: names the current bundle; theme before paint)
//   dist/assets/app-<hash>.js, .css  (content-hashed: cacheable forever)
// `node build.mjs --watch` rebuilds on change (for development with a node
// started with AIHUB_WEBUI_DIR pointing here; reload the node to pick files up).
import * as esbuild from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingZh } from './i18n-check.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const watch = process.argv.includes('--watch');

const writeIndex = async (metafile) => {
  const outs = Object.keys(metafile.outputs).map((o) => path.relative(dist, path.resolve(here, o)));
  const js = outs.find((o) => /^assets\/app-[^/]+\.js$/.test(o));
  const css = outs.find((o) => /^assets\/app-[^/]+\.css$/.test(o));
  if (!js || !css) throw new Error(`esbuild produced no app bundle: ${outs.join(', ')}`);
  const tpl = await readFile(path.join(here, 'index.html'), 'utf8');
  await copyFile(path.join(here, 'src', 'boot.js'), path.join(dist, 'boot.js'));
  await writeFile(path.join(dist, 'index.html'),
    tpl.replace('%APP_JS%', `/admin/${js}`).replace('%APP_CSS%', `/admin/${css}`));
  return { js, css };
};

const options = {
  absWorkingDir: here,
  entryPoints: { app: 'src/main.jsx' },
  bundle: true,
  format: 'esm',
  splitting: false,
  minify: !watch,
  sourcemap: 'linked',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': watch ? '"development"' : '"production"' },
};

const missing = await missingZh();
if (missing.length) {
  console.error(`webui: ${missing.length} string(s) have no Chinese translation in src/zh.js:\n  ${missing.map((m) => JSON.stringify(m)).join('\n  ')}`);
  if (!watch) process.exit(1);
}

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: 'index', setup(b) { b.onEnd(async (r) => { if (r.metafile) console.log('webui: rebuilt', (await writeIndex(r.metafile)).js); }); } }],
  });
  await ctx.watch();
  console.log('webui: watching src/ (Ctrl-C to stop)');
} else {
  const result = await esbuild.build(options);
  const { js, css } = await writeIndex(result.metafile);
  const size = (f) => (result.metafile.outputs[path.join('dist', f)]?.bytes ?? 0);
  console.log(`webui: built dist/ (${js} ${Math.round(size(js) / 1024)} KiB, ${css} ${Math.round(size(css) / 1024)} KiB)`);
}
