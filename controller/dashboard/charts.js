// Small SVG charts drawn with DOM calls (no library, nothing inline: the page's CSP allows no inline script).

const NS = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 160;
const PAD = { left: 40, right: 8, top: 18, bottom: 22 };

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** Axes: y from 0 to `top` (3 grid lines, whole numbers), x labels at the first, middle and last bucket; a note when there is nothing to draw. */
function frame(svg, buckets, top, unit) {
  const max = Math.max(2, Math.ceil(top / 2) * 2);
  svg.replaceChildren();
  if (!buckets.some((b) => b.count > 0)) svg.append(el('text', { x: W / 2, y: H / 2, class: 'empty', 'text-anchor': 'middle' }, 'no activations in this window'));
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 2; i++) {
    const y = PAD.top + plotH - (plotH * i) / 2;
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    svg.append(el('text', { x: PAD.left - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, `${Math.round((max * i) / 2)}${i === 2 ? unit : ''}`));
  }
  const step = (W - PAD.left - PAD.right) / Math.max(1, buckets.length);
  const labels = [[0, 'start'], [Math.floor(buckets.length / 2), 'middle'], [buckets.length - 1, 'end']];
  for (const [i, anchor] of labels) {
    const x = anchor === 'start' ? PAD.left : anchor === 'end' ? W - PAD.right : PAD.left + step * (i + 0.5);
    if (buckets[i]) svg.append(el('text', { x, y: H - 6, class: 'axis', 'text-anchor': anchor }, clock(buckets[i].start)));
  }
  return { plotH, step, y: (v) => PAD.top + plotH - (max ? (plotH * v) / max : 0) };
}

/** Bars of invocations per bucket, the failed part of each bar marked. */
export function countChart(svg, buckets) {
  const { step, y } = frame(svg, buckets, Math.max(0, ...buckets.map((b) => b.count)), '');
  buckets.forEach((b, i) => {
    const x = PAD.left + step * i + step * 0.15;
    const w = step * 0.7;
    if (b.count > 0) {
      svg.append(el('rect', { x, y: y(b.count), width: w, height: y(0) - y(b.count), class: 'bar' }, undefined));
      svg.lastChild.append(el('title', {}, `${clock(b.start)}: ${b.count} invocations, ${b.errors} failed`));
    }
    if (b.errors > 0) svg.append(el('rect', { x, y: y(b.errors), width: w, height: y(0) - y(b.errors), class: 'bar failed' }));
  });
  svg.dataset.drawn = String(buckets.reduce((n, b) => n + b.count, 0));
}

/** Lines of p50 and p99 duration per bucket (gaps where a bucket has no activation). */
export function durationChart(svg, buckets) {
  const { step, y } = frame(svg, buckets, Math.max(0, ...buckets.map((b) => b.p99 ?? 0)), ' ms');
  for (const [key, cls] of [['p99', 'line p99'], ['p50', 'line p50']]) {
    let d = '';
    let pen = 'M';
    buckets.forEach((b, i) => {
      if (b[key] === undefined) {
        pen = 'M';
        return;
      }
      const x = PAD.left + step * (i + 0.5);
      d += `${pen}${x.toFixed(1)},${y(b[key]).toFixed(1)} `;
      pen = 'L';
      svg.append(el('circle', { cx: x, cy: y(b[key]), r: 2.5, class: `dot ${key}` }));
    });
    if (d) svg.append(el('path', { d, class: cls }));
  }
  svg.append(el('text', { x: W - PAD.right, y: 10, class: 'legend p99', 'text-anchor': 'end' }, 'p99'));
  svg.append(el('text', { x: W - PAD.right - 30, y: 10, class: 'legend p50', 'text-anchor': 'end' }, 'p50'));
  svg.dataset.drawn = String(buckets.filter((b) => b.p50 !== undefined).length);
}
