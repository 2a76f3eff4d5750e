// SPDX-License-Identifier: Apache-2.0
// pages/alerts.js - the tenant's alerts, filtered by state, minimum severity
// and device (kept in the URL so a filtered view can be bookmarked), with
// acknowledge and resolve.
import { api, qs } from '../api.js';
import { alertsTable } from '../alerts_table.js';
import { h, messageLine } from '../dom.js';

const LIMIT = 200;

function select(name, label, options, value) {
    const el = h('select', { name, 'data-testid': `filter-${name}` },
        options.map(([v, t]) => h('option', { value: v, text: t, selected: v === value })));
    return { el, field: h('label', { class: 'field' }, label, el) };
}

export function render(root, _args, query, ctx) {
    const msg = messageLine('alerts-message');
    const state = select('state', 'State', [
        ['active', 'Open or acknowledged'], ['open', 'Open'], ['acknowledged', 'Acknowledged'],
        ['resolved', 'Resolved'], ['', 'Any'],
    ], query.get('state') ?? 'active');
    const severity = select('severity', 'Severity at least', [
        ['', 'Any'], ['info', 'Info'], ['warning', 'Warning'], ['critical', 'Critical'],
    ], query.get('severity') || '');
    const device = select('device', 'Device', [['', 'All devices']], '');
    const wanted = query.get('device') || '';
    if (wanted) {
        device.el.append(h('option', { value: wanted, text: wanted, selected: true }));
    }
    const refresh = h('button', { type: 'button', class: 'btn btn-quiet', text: 'Refresh' });
    const count = h('span', { class: 'muted', 'data-testid': 'alerts-count' }, '\u00a0');
    const table = alertsTable({ withDevice: true, msg });
    table.loading();
    root.append(
        h('h1', { text: 'Alerts' }),
        h('div', { class: 'row card' }, state.field, severity.field, device.field,
            h('span', { class: 'spacer' }), count, refresh),
        msg.el,
        table.el);

    let seq = 0;
    async function load() {
        const mine = ++seq;
        const params = { state: state.el.value, severity: severity.el.value, device: device.el.value, limit: LIMIT };
        try {
            const res = await api(`/alerts${qs(params)}`, { signal: ctx.signal });
            if (mine !== seq) {
                return; // a newer filter's answer wins
            }
            table.show(res.alerts, 'No alerts match the filter.');
            count.textContent = `${res.alerts.length}${res.alerts.length >= LIMIT ? '+' : ''} alerts`;
        } catch (e) {
            if (e.name !== 'AbortError') {
                msg.error(e);
            }
        }
    }
    function filterChanged() {
        // The state stays in the URL even when empty ("any"), which differs from no state (active).
        const p = new URLSearchParams({ state: state.el.value });
        for (const s of [severity, device]) {
            if (s.el.value) {
                p.set(s.el.name, s.el.value);
            }
        }
        history.replaceState(null, '', `#/alerts?${p}`);
        msg.clear();
        table.loading();
        load();
    }
    for (const s of [state, severity, device]) {
        s.el.addEventListener('change', filterChanged);
    }
    refresh.addEventListener('click', () => {
        msg.clear();
        load();
    });

    api('/devices', { signal: ctx.signal }).then((res) => {
        for (const d of res.devices.map((x) => x.id).sort()) {
            if (d !== wanted) {
                device.el.append(h('option', { value: d, text: d }));
            }
        }
    }).catch((e) => {
        if (e.name !== 'AbortError') {
            msg.error(e);
        }
    });
    load();
    ctx.every(load, 15000);
}
