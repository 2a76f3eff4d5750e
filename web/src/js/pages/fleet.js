// SPDX-License-Identifier: Apache-2.0
// pages/fleet.js - the fleet overview: every device of the tenant with its
// status, last seen, active alerts, latest key values and remaining useful
// life (GET /api/v1/rul: the live RUL stage's latest per device), refreshed
// every 5 s. On a phone the columns marked 'opt' (type, last seen) are left
// out, so that the alerts and readings come into view sooner.
import { api } from '../api.js';
import { badge, dataTable, emptyRow, h, messageLine, setChildren, skeletonRows } from '../dom.js';
import { fmtAgo, fmtNum } from '../format.js';

// The key values shown per device: the simulated machines' main sensors.
const KEY_SENSORS = [
    ['temperature_mean', 'Temp.'],
    ['current_mean', 'Current'],
    ['vibration_magnitude', 'Vibration'],
];
const ALERT_LIMIT = 500;

export function render(root, _args, _query, ctx) {
    const msg = messageLine('fleet-message');
    const summary = h('span', { class: 'muted', 'data-testid': 'fleet-summary' }, '\u00a0');
    const cols = [
        ['Device', '16%'], ['Type', '11%', 'opt'], ['Status', '11%'], ['Last seen', '12%', 'opt'],
        ['Alerts', '8%', 'num'],
        ...KEY_SENSORS.map(([, title]) => [title, '11%', 'num']),
        ['RUL', '9%', 'num'],
    ];
    const table = dataTable(cols, 'fleet-table');
    skeletonRows(table.tbody, 6, cols.length);
    root.append(
        h('div', { class: 'row' }, h('h1', { text: 'Fleet' }), h('span', { class: 'spacer' }), summary),
        msg.el,
        table.el);

    async function load() {
        try {
            const [devices, latest, alerts, rul] = await Promise.all([
                api('/devices', { signal: ctx.signal }),
                api('/latest', { signal: ctx.signal }),
                api(`/alerts?state=active&limit=${ALERT_LIMIT}`, { signal: ctx.signal }),
                api('/rul', { signal: ctx.signal }).catch((e) => {
                    if (e.name === 'AbortError') throw e;
                    return { devices: [] }; // an older server without RUL: the column stays empty
                }),
            ]);
            const rulByDevice = new Map((rul.devices || []).map((p) => [p.device, p]));
            const openByDevice = new Map();
            for (const a of alerts.alerts) {
                openByDevice.set(a.device, (openByDevice.get(a.device) || 0) + 1);
            }
            fill(table.tbody, devices.devices, latest.devices || {}, openByDevice, rulByDevice, cols.length);
            const online = devices.devices.filter((d) => d.status === 'online').length;
            summary.textContent = `${devices.devices.length} devices, ${online} online, ` +
                `${alerts.alerts.length}${alerts.alerts.length >= ALERT_LIMIT ? '+' : ''} active alerts`;
            msg.clear();
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        }
    }
    load();
    ctx.every(load, 5000);
}

// The RUL cell: the predicted cycles, or '—' with the reason as its tooltip.
function rulCell(p) {
    if (!p || p.rul === null || p.rul === undefined) {
        return h('td', { class: 'num', 'data-testid': 'rul', text: '—',
            title: p && p.note ? `No prediction: ${p.note}` : 'Remaining useful life: no prediction' });
    }
    return h('td', { class: 'num', 'data-testid': 'rul', text: fmtNum(p.rul),
        title: `Remaining useful life (model ${p.model_version}, ${p.time})` });
}

function fill(tbody, devices, latest, openByDevice, rulByDevice, ncols) {
    if (!devices.length) {
        emptyRow(tbody, ncols, 'No devices yet: they appear when they first send data, or with "modax device add".');
        return;
    }
    const now = Date.now();
    const rows = devices
        .slice()
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((d) => {
            const values = latest[d.id] || {};
            const open = openByDevice.get(d.id) || 0;
            const href = `#/devices/${encodeURIComponent(d.id)}`;
            return h('tr', { class: 'link', dataset: { device: d.id }, onclick: () => { location.hash = href; } },
                h('td', null, h('a', { href, text: d.id })),
                h('td', { class: 'opt', text: d.type || '—' }),
                h('td', null, d.emergency_stop ? badge('E-STOP', 'estop') : badge(d.status || 'unknown')),
                h('td', { class: 'opt', text: fmtAgo(d.last_seen_ms, now), title: d.last_seen || '' }),
                h('td', { class: 'num' }, open ? badge(String(open), 'open') : '0'),
                KEY_SENSORS.map(([s]) => h('td', {
                    class: 'num', text: values[s] ? fmtNum(values[s].value) : '—', title: values[s] ? values[s].time : '',
                })),
                rulCell(rulByDevice.get(d.id)));
        });
    setChildren(tbody, rows);
}
