import { type Html, html } from './html.js';
import { count, timeText } from './format.js';
import type { QueueSummary } from './model.js';

const WIDTH = 600;
const HEIGHT = 96;
const TOP = 14;

/**
 * Completed and failed tasks per minute over the last hour, as an SVG drawn on the server: bars of completed tasks
 * with the failed ones stacked on top, a title per minute for the pointer, and the totals as the image's label.
 */
export function minuteChart(queue: QueueSummary): Html {
  const { minutes } = queue;
  const peak = Math.max(1, ...minutes.map((m) => m.succeeded + m.dead));
  const slot = WIDTH / minutes.length;
  const scale = (HEIGHT - TOP) / peak;
  const succeeded = minutes.reduce((sum, m) => sum + m.succeeded, 0);
  const dead = minutes.reduce((sum, m) => sum + m.dead, 0);
  const label = `Last hour in ${queue.name}: ${count(succeeded)} completed, ${count(dead)} failed; at most ${count(peak)} a minute`;
  const bars = minutes.map((m, i) => {
    const x = (i * slot + 1).toFixed(1);
    const w = (slot - 2).toFixed(1);
    const ok = m.succeeded * scale;
    const bad = m.dead * scale;
    return html`<g><title>${timeText(m.at).slice(11, 16)} UTC: ${count(m.succeeded)} completed, ${count(m.dead)} failed</title>
<rect class="slot" x="${x}" y="0" width="${w}" height="${HEIGHT}"></rect>${
      m.succeeded > 0
        ? html`<rect class="ok" x="${x}" y="${(HEIGHT - ok).toFixed(1)}" width="${w}" height="${ok.toFixed(1)}"></rect>`
        : ''
    }${
      m.dead > 0
        ? html`<rect class="bad" x="${x}" y="${(HEIGHT - ok - bad).toFixed(1)}" width="${w}" height="${Math.max(1, bad).toFixed(1)}"></rect>`
        : ''
    }</g>`;
  });
  return html`<figure class="chart">
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" role="img" aria-label="${label}">${bars}
<line class="axis" x1="0" y1="${HEIGHT - 0.5}" x2="${WIDTH}" y2="${HEIGHT - 0.5}"></line></svg>
<figcaption><span>60 min ago</span><span><span class="key ok"></span>completed <span class="key bad"></span>failed · peak ${count(peak)}/min</span><span>now</span></figcaption>
</figure>`;
}
