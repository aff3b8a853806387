// Chart.js, registered with only the pieces the console uses (tree-shaken),
// coloured from the theme's CSS variables and redrawn when the theme changes.
import {
  ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Filler, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import { useTheme } from './theme.js';

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Filler, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip);

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
export const palette = () => [1, 2, 3, 4, 5, 6, 7, 8].map((i) => css(`--chart-${i}`));

function baseOptions() {
  const text = css('--text-muted');
  const grid = css('--border');
  Chart.defaults.color = text;
  Chart.defaults.font.family = css('--font');
  Chart.defaults.borderColor = grid;
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: matchMedia('(prefers-reduced-motion: reduce)').matches ? false : { duration: 300 },
    interaction: { mode: 'index', intersect: false },
    plugins: {
      legend: { labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true } },
      tooltip: { backgroundColor: css('--surface-raised'), titleColor: css('--text'), bodyColor: css('--text'), borderColor: grid, borderWidth: 1 },
    },
  };
}

/**
 * <ChartBox kind="line|bar|doughnut" labels={[...]} series={[{label, data, axis?}]} label="summary for screen readers" />
 */
export function ChartBox({ kind, labels, series, label, stacked = false, height = 240, format }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  const theme = useTheme();
  useEffect(() => {
    const colors = palette();
    const opts = baseOptions();
    const datasets = series.map((s, i) => {
      const c = s.color || colors[i % colors.length];
      if (kind === 'doughnut') {
        return { label: s.label, data: s.data, backgroundColor: s.data.map((_, j) => colors[j % colors.length]), borderColor: css('--surface'), borderWidth: 2 };
      }
      return {
        label: s.label,
        data: s.data,
        borderColor: c,
        backgroundColor: kind === 'line' ? `${c}33` : c,
        fill: kind === 'line' && i === 0,
        tension: 0.3,
        pointRadius: 0,
        pointHoverRadius: 4,
        borderWidth: 2,
        borderRadius: kind === 'bar' ? 4 : 0,
        yAxisID: s.axis || 'y',
      };
    });
    const tick = format ? { callback: (v) => format(v) } : {};
    const scales = kind === 'doughnut' ? {} : {
      x: { stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
      y: { stacked, beginAtZero: true, ticks: { precision: 0, ...tick } },
      ...(series.some((s) => s.axis === 'y2') ? { y2: { position: 'right', beginAtZero: true, grid: { display: false }, ticks: { precision: 0 } } } : {}),
    };
    const options = {
      ...opts,
      scales,
      ...(kind === 'doughnut' ? { cutout: '62%', plugins: { ...opts.plugins, legend: { position: 'right', labels: opts.plugins.legend.labels } } } : {}),
    };
    if (format) options.plugins.tooltip.callbacks = { label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y ?? ctx.parsed)}` };
    chart.current?.destroy();
    chart.current = new Chart(canvas.current, { type: kind, data: { labels, datasets }, options });
    return () => { chart.current?.destroy(); chart.current = null; };
  }, [kind, JSON.stringify(labels), JSON.stringify(series), theme, stacked]);
  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
