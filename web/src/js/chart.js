// SPDX-License-Identifier: Apache-2.0
// chart.js - one sensor's time-series chart (uPlot) in a card of fixed height:
// history from the range query, live points appended, a sliding time window,
// redrawn at most twice a second. The card shows the last value and how many
// points are in the window (data-points, for tests and the curious).
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';
import { fmtNum, fmtTime } from './format.js';

const HEIGHT = 230;
const MAX_POINTS = 5000; // per chart: the oldest go first
const REDRAW_MS = 500;

export class SensorChart {
    constructor(sensor) {
        this.sensor = sensor;
        this.ts = []; // ms, ascending
        this.vals = [];
        this.windowMs = 15 * 60 * 1000;
        this.plot = null;
        this.timer = null;
        this.last = h('span', { class: 'last', 'data-testid': 'last-value', text: '—' });
        this.count = h('span', { class: 'count', 'data-testid': 'point-count', text: '' });
        this.box = h('div', { class: 'chart-box loading' });
        this.el = h('section', { class: 'chart-card', 'data-testid': 'chart', dataset: { sensor, points: 0 } },
            h('div', { class: 'chart-head' }, h('span', { class: 'name', text: sensor, title: sensor }),
                this.count, this.last),
            this.box);
        this.resize = new ResizeObserver(() => {
            if (this.plot && this.box.clientWidth > 0) {
                this.plot.setSize({ width: this.box.clientWidth, height: HEIGHT });
            }
        });
        this.resize.observe(this.box);
    }

    // Replaces the history, keeping live points newer than its end.
    setHistory(points, windowMs) {
        this.windowMs = windowMs;
        const end = points.length ? points[points.length - 1][0] : -Infinity;
        const ts = [];
        const vals = [];
        for (const [t, v] of points) {
            ts.push(t);
            vals.push(v);
        }
        for (let i = 0; i < this.ts.length; i++) {
            if (this.ts[i] > end) {
                ts.push(this.ts[i]);
                vals.push(this.vals[i]);
            }
        }
        this.ts = ts;
        this.vals = vals;
        this.box.classList.remove('loading');
        this.schedule(true);
    }

    push(t, v) {
        let i = this.ts.length;
        while (i > 0 && this.ts[i - 1] > t) {
            i--; // out of order: rare, and only by a little
        }
        if (i > 0 && this.ts[i - 1] === t) {
            this.vals[i - 1] = v;
        } else {
            this.ts.splice(i, 0, t);
            this.vals.splice(i, 0, v);
        }
        if (this.ts.length > MAX_POINTS) {
            const drop = this.ts.length - MAX_POINTS;
            this.ts.splice(0, drop);
            this.vals.splice(0, drop);
        }
        this.schedule(false);
    }

    schedule(now) {
        if (now) {
            clearTimeout(this.timer);
            this.timer = null;
            this.draw();
        } else if (!this.timer) {
            this.timer = setTimeout(() => {
                this.timer = null;
                this.draw();
            }, REDRAW_MS);
        }
    }

    draw() {
        const to = Date.now();
        const from = to - this.windowMs;
        let first = 0;
        while (first < this.ts.length && this.ts[first] < from) {
            first++;
        }
        if (first > 0) {
            this.ts.splice(0, first);
            this.vals.splice(0, first);
        }
        const n = this.ts.length;
        this.el.dataset.points = String(n);
        this.count.textContent = `${n} pts`;
        if (n) {
            this.last.textContent = fmtNum(this.vals[n - 1]);
            this.last.title = fmtTime(this.ts[n - 1]);
            this.el.dataset.lastTs = String(this.ts[n - 1]);
        }
        if (this.box.clientWidth === 0) {
            return; // not laid out yet; the next draw builds it
        }
        const data = [this.ts.map((t) => t / 1000), this.vals.slice()];
        if (!this.plot) {
            this.plot = new uPlot({
                width: this.box.clientWidth,
                height: HEIGHT,
                legend: { show: false },
                cursor: { drag: { x: false, y: false } },
                scales: { x: { time: true } },
                axes: [{ grid: { stroke: '#eef1f4' } }, { size: 64, grid: { stroke: '#eef1f4' } }],
                series: [{}, { label: this.sensor, stroke: '#0b5cad', width: 1.5, points: { show: false }, spanGaps: false }],
            }, data, this.box);
        } else {
            this.plot.setData(data, true);
        }
        this.plot.setScale('x', { min: from / 1000, max: to / 1000 });
    }

    destroy() {
        clearTimeout(this.timer);
        this.resize.disconnect();
        if (this.plot) {
            this.plot.destroy();
        }
    }
}

// The bucket width for a window: the smallest of these giving at most 1000 buckets.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
    .map((s) => s * 1000);
export function stepFor(windowMs, maxBuckets = 1000) {
    return STEPS.find((s) => windowMs / s <= maxBuckets) || STEPS[STEPS.length - 1];
}
