// SPDX-License-Identifier: Apache-2.0
// pages/device.js - one device: status and safety state, a live chart per
// sensor (history from the downsampled range query, then points from the live
// stream), the range picker, the device's alerts and the command form with
// the device's limits and the state of the commands sent.
import { api, qs, readStream, roleAtLeast } from '../api.js';
import { alertsTable } from '../alerts_table.js';
import { SensorChart, stepFor } from '../chart.js';
import { badge, dataTable, emptyRow, h, messageLine, setChildren, skeletonRows } from '../dom.js';
import { fmtAgo, fmtNum, fmtTime } from '../format.js';

const RANGES = [['15m', '15 min', 15 * 60e3], ['1h', '1 h', 3600e3], ['24h', '24 h', 86400e3], ['7d', '7 d', 7 * 86400e3]];
const SAFETY_FLAGS = [
    ['emergency_stop', 'Emergency stop', true],
    ['door_closed', 'Door closed', false],
    ['overload_detected', 'Overload', true],
    ['temperature_ok', 'Temperature OK', false],
];
const COMMANDS_SHOWN = 10;
const POLL_MS = 1000;
const POLL_MAX = 120;

export function render(root, [id], query, ctx) {
    const enc = encodeURIComponent(id);
    const msg = messageLine('device-message');
    let rangeKey = RANGES.some(([k]) => k === query.get('range')) ? query.get('range') : '15m';
    const charts = new Map(); // sensor -> SensorChart
    ctx.signal.addEventListener('abort', () => charts.forEach((c) => c.destroy()), { once: true });

    // Header and facts.
    const statusEl = h('span', { 'data-testid': 'device-status' }, badge('…', 'unknown'));
    const liveDot = h('span', { class: 'live-dot' });
    const liveText = h('span', { 'data-testid': 'live-state', text: 'Connecting…' });
    const fact = (k, testid) => {
        const v = h('div', { class: 'v', 'data-testid': testid, text: '—' });
        return { v, el: h('div', { class: 'fact' }, h('div', { class: 'k', text: k }), v) };
    };
    const facts = { type: fact('Type', 'device-type'), seen: fact('Last seen', 'device-last-seen') };
    const safety = new Map(SAFETY_FLAGS.map(([k, label]) => [k, fact(label, `safety-${k}`)]));
    let lastSeenMs = null;

    // Range picker.
    const rangeButtons = RANGES.map(([k, label]) => h('button', {
        type: 'button', class: 'btn btn-toggle', 'aria-pressed': String(k === rangeKey), dataset: { range: k }, text: label,
        onclick: () => setRange(k),
    }));
    const chartsEl = h('div', { class: 'charts', 'data-testid': 'charts' });
    for (let i = 0; i < 4; i++) {
        chartsEl.append(h('section', { class: 'chart-card' }, h('div', { class: 'chart-head' }),
            h('div', { class: 'chart-box loading' })));
    }

    // Alerts and commands.
    const alertMsg = messageLine('device-alerts-message');
    const alerts = alertsTable({ withDevice: false, msg: alertMsg, testid: 'device-alerts' });
    alerts.loading();
    const cmd = commandPanel(id, enc, ctx);

    root.append(
        h('div', { class: 'row' },
            h('h1', null, h('a', { href: '#/fleet', text: 'Fleet' }), ' / ', h('span', { 'data-testid': 'device-id', text: id })),
            statusEl, h('span', { class: 'spacer' }), h('span', null, liveDot, liveText)),
        msg.el,
        h('div', { class: 'card' }, h('div', { class: 'facts' }, facts.type.el, facts.seen.el,
            [...safety.values()].map((f) => f.el))),
        h('div', { class: 'row', style: 'margin-bottom:1rem' }, h('h2', { text: 'Sensors', style: 'margin:0' }),
            h('span', { class: 'spacer' }), h('span', { class: 'btn-group', role: 'group', 'aria-label': 'Time range' }, rangeButtons)),
        chartsEl,
        h('div', { style: 'margin-top:1rem' },
            cmd.el,
            h('section', { class: 'card' },
                h('div', { class: 'row' }, h('h2', { text: 'Alerts' }), h('span', { class: 'spacer' }),
                    h('a', { href: `#/alerts?state=&device=${enc}`, text: 'All alerts of this device' })),
                alertMsg.el, alerts.el)));

    function chartFor(sensor) {
        let c = charts.get(sensor);
        if (!c) {
            if (charts.size === 0) {
                chartsEl.replaceChildren();
            }
            c = new SensorChart(sensor);
            charts.set(sensor, c);
            const sorted = [...charts.keys()].sort();
            const next = sorted[sorted.indexOf(sensor) + 1];
            chartsEl.insertBefore(c.el, next ? charts.get(next).el : null);
        }
        return c;
    }

    function showSafety(flags) {
        for (const [k, , badWhenTrue] of SAFETY_FLAGS) {
            if (typeof flags[k] === 'boolean') {
                const bad = flags[k] === badWhenTrue;
                const text = k === 'emergency_stop' ? (flags[k] ? 'ACTIVE' : 'released') : (flags[k] ? 'yes' : 'no');
                setChildren(safety.get(k).v, badge(text, bad ? 'estop' : 'clear'));
            }
        }
        if (typeof flags.emergency_stop === 'boolean') {
            cmd.setEmergencyStop(flags.emergency_stop);
        }
    }

    function showSeen() {
        facts.seen.v.textContent = fmtAgo(lastSeenMs);
    }

    async function loadDevice() {
        try {
            const d = await api(`/devices/${enc}`, { signal: ctx.signal });
            setChildren(statusEl, badge(d.status || 'unknown'));
            facts.type.v.textContent = d.type || '—';
            lastSeenMs = d.last_seen_ms;
            showSeen();
            showSafety({ emergency_stop: !!d.emergency_stop });
            cmd.setLimits(d.limits || {});
            for (const s of d.sensors || []) {
                chartFor(s);
            }
            return true;
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e.status === 404 ? new Error(`No device "${id}" in this tenant.`) : e);
            }
            return false;
        }
    }

    async function loadSafety() {
        try {
            const res = await api(`/devices/${enc}/events?kind=safety&limit=1`, { signal: ctx.signal });
            const ev = res.events[0];
            if (ev) {
                let body = ev.body;
                if (typeof body === 'string') {
                    try {
                        body = JSON.parse(body);
                    } catch {
                        body = {};
                    }
                }
                showSafety(body || {});
            }
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        }
    }

    let rangeSeq = 0;
    async function loadRange() {
        const mine = ++rangeSeq;
        const windowMs = RANGES.find(([k]) => k === rangeKey)[2];
        const to = Date.now();
        const from = to - windowMs;
        const step = stepFor(windowMs);
        for (const c of charts.values()) {
            c.box.classList.add('loading');
        }
        try {
            const res = await api(`/devices/${enc}/telemetry${qs({ from, to, step, agg: 'avg' })}`, { signal: ctx.signal });
            if (mine !== rangeSeq) {
                return;
            }
            const got = new Set();
            for (const s of res.series) {
                chartFor(s.sensor).setHistory(s.points, windowMs);
                got.add(s.sensor);
            }
            for (const [s, c] of charts) {
                if (!got.has(s)) {
                    c.setHistory([], windowMs);
                }
            }
            if (charts.size === 0) {
                setChildren(chartsEl, h('p', { class: 'muted', text: 'No readings from this device yet.' }));
            }
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        }
    }

    function setRange(k) {
        rangeKey = k;
        for (const b of rangeButtons) {
            b.setAttribute('aria-pressed', String(b.dataset.range === k));
        }
        history.replaceState(null, '', `#/devices/${enc}?range=${k}`);
        loadRange();
    }

    let alertSeq = 0;
    async function loadAlerts() {
        const mine = ++alertSeq;
        try {
            const res = await api(`/alerts?device=${enc}&limit=20`, { signal: ctx.signal });
            if (mine === alertSeq) {
                alerts.show(res.alerts, 'No alerts for this device.');
            }
        } catch (e) {
            if (e.name !== 'AbortError') {
                alertMsg.error(e);
            }
        }
    }

    let alertTimer = null;
    function onEvent(type, data) {
        if (data.device !== undefined && data.device !== id) {
            return;
        }
        if (type === 'point') {
            let newest = null;
            for (const p of data.points || []) {
                if (typeof p.value === 'number') {
                    chartFor(p.sensor).push(p.ts_ms, p.value);
                    newest = Math.max(newest ?? p.ts_ms, p.ts_ms);
                }
            }
            if (newest !== null) {
                lastSeenMs = Math.max(lastSeenMs ?? newest, newest);
            }
        } else if (type === 'status') {
            setChildren(statusEl, badge(data.state || 'unknown'));
        } else if (type === 'safety') {
            showSafety(data);
        } else if (type === 'alert') {
            clearTimeout(alertTimer); // a burst of alerts: one reload
            alertTimer = setTimeout(loadAlerts, 300);
        } else if (type === 'command') {
            cmd.onCommandEvent(data);
        }
    }

    function onState(connected, err) {
        liveDot.classList.toggle('on', connected);
        liveText.textContent = connected ? 'Live' : 'Reconnecting…';
        if (err && !connected && err.status) {
            msg.error(err);
        }
    }

    (async () => {
        if (!(await loadDevice())) {
            return;
        }
        readStream({ device: id }, { onEvent, onState, signal: ctx.signal });
        loadRange();
        loadSafety();
        loadAlerts();
        cmd.loadCommands();
        ctx.every(() => {
            showSeen();
            for (const c of charts.values()) {
                c.schedule(false); // slide the window even when nothing arrives
            }
        }, 5000);
        ctx.every(loadAlerts, 30000);
    })();
}

// The command form, the device's limits and its recent commands.
function commandPanel(id, enc, ctx) {
    const canSend = roleAtLeast('operator');
    const msg = messageLine('command-message');
    const limitsCols = [['Parameter', '50%'], ['Min', '25%', 'num'], ['Max', '25%', 'num']];
    const limitsTable = dataTable(limitsCols, 'device-limits');
    skeletonRows(limitsTable.tbody, 1, 3);
    const names = h('datalist', { id: 'command-names' });
    const name = h('input', { name: 'name', list: 'command-names', autocomplete: 'off', required: true, 'data-testid': 'command-name' });
    const value = h('input', { name: 'value', type: 'number', step: 'any', inputmode: 'decimal', required: true, 'data-testid': 'command-value' });
    const hint = h('p', { class: 'muted', style: 'min-height:1.5rem;margin:.3rem 0', 'data-testid': 'command-hint' });
    const send = h('button', { type: 'submit', class: 'btn', 'data-testid': 'command-send', disabled: !canSend, text: 'Send command' });
    const estop = h('p', { class: 'msg error', 'data-testid': 'command-estop' });
    const form = h('form', { novalidate: true },
        h('div', { class: 'row' },
            h('label', { class: 'field' }, 'Command', name, names),
            h('label', { class: 'field' }, 'Value', value),
            send),
        hint, estop, msg.el,
        canSend ? null : h('p', { class: 'muted', text: 'Sending commands needs an operator or admin key.' }));
    const cmdCols = [['Sent', '16%'], ['Command', '20%'], ['Value', '12%', 'num'], ['State', '14%'], ['Detail', '38%']];
    const cmdTable = dataTable(cmdCols, 'device-commands');
    skeletonRows(cmdTable.tbody, 3, cmdCols.length);
    let limits = {};
    const rows = new Map(); // command id -> {tr, cmd}

    function showHint() {
        const l = limits[name.value.trim()];
        hint.textContent = l ? `Allowed: ${fmtNum(l.min)} … ${fmtNum(l.max)}` : '\u00a0';
    }
    name.addEventListener('input', showHint);

    function commandRow(c) {
        const tr = h('tr', { dataset: { commandId: c.id, state: c.state } },
            h('td', { text: fmtTime(c.created_ms), title: c.created || '' }),
            h('td', { text: c.name }),
            h('td', { class: 'num', text: fmtNum(c.value) }),
            h('td', { 'data-testid': 'command-state' }, badge(c.state)),
            h('td', { text: c.detail || '', title: c.detail || '' }));
        const old = rows.get(String(c.id));
        rows.set(String(c.id), { tr, cmd: c });
        if (old) {
            old.tr.replaceWith(tr);
        }
        return tr;
    }

    async function loadCommands() {
        try {
            const res = await api(`/devices/${enc}/commands?limit=${COMMANDS_SHOWN}`, { signal: ctx.signal });
            rows.clear();
            if (!res.commands.length) {
                emptyRow(cmdTable.tbody, cmdCols.length, 'No commands sent yet.');
            } else {
                setChildren(cmdTable.tbody, res.commands.map(commandRow));
            }
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        }
    }

    // Polls a sent command until the device answers (the stream's command events may be first).
    async function follow(cid) {
        for (let i = 0; i < POLL_MAX && !ctx.signal.aborted; i++) {
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
            try {
                const c = await api(`/commands/${encodeURIComponent(cid)}`, { signal: ctx.signal });
                commandRow(c);
                if (c.state !== 'sent') {
                    msg.ok(`Command ${c.name} = ${fmtNum(c.value)}: ${c.state}${c.detail ? ` (${c.detail})` : ''}.`);
                    return;
                }
            } catch (e) {
                if (e.name === 'AbortError') {
                    return;
                }
                msg.error(e);
            }
        }
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const n = name.value.trim();
        const v = Number(value.value);
        if (!n) {
            msg.error(new Error('Enter the command name.'));
            return;
        }
        if (value.value.trim() === '' || !Number.isFinite(v)) {
            msg.error(new Error('The value must be a number.'));
            return;
        }
        send.disabled = true;
        msg.info('Sending…');
        try {
            const c = await api(`/devices/${enc}/commands`, { method: 'POST', body: { name: n, value: v }, signal: ctx.signal });
            if (rows.size === 0) {
                cmdTable.tbody.replaceChildren();
            }
            cmdTable.tbody.prepend(commandRow(c));
            while (cmdTable.tbody.rows.length > COMMANDS_SHOWN) {
                cmdTable.tbody.lastElementChild.remove();
            }
            msg.info(`Command ${c.name} = ${fmtNum(c.value)} sent; waiting for the device…`);
            follow(c.id);
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        } finally {
            send.disabled = !canSend;
        }
    });

    return {
        el: h('section', { class: 'card' }, h('h2', { text: 'Commands' }),
            h('h3', { class: 'muted', style: 'font-size:.95rem;margin:.2rem 0', text: 'Limits of this device' }),
            limitsTable.el, h('div', { style: 'height:.8rem' }), form, cmdTable.el),
        loadCommands,
        setLimits(l) {
            limits = l;
            const keys = Object.keys(l).sort();
            setChildren(names, keys.map((k) => h('option', { value: k })));
            if (!keys.length) {
                emptyRow(limitsTable.tbody, 3, 'No limits set: the device decides what it accepts.');
            } else {
                setChildren(limitsTable.tbody, keys.map((k) => h('tr', { dataset: { param: k } },
                    h('td', { text: k }), h('td', { class: 'num', text: fmtNum(l[k].min) }),
                    h('td', { class: 'num', text: fmtNum(l[k].max) }))));
            }
            if (!name.value && keys.length) {
                name.value = keys[0];
            }
            showHint();
        },
        setEmergencyStop(on) {
            estop.textContent = on ? 'Emergency stop active: the server refuses commands until it is released.' : '';
        },
        onCommandEvent(data) {
            const r = rows.get(String(data.command_id));
            if (r && ['sent', 'acked', 'rejected', 'failed'].includes(data.status)) {
                const c = { ...r.cmd, state: data.status, detail: data.detail ?? r.cmd.detail };
                commandRow(c);
                if (r.cmd.state === 'sent' && c.state !== 'sent') {
                    msg.ok(`Command ${c.name} = ${fmtNum(c.value)}: ${c.state}${c.detail ? ` (${c.detail})` : ''}.`);
                }
            }
        },
    };
}
