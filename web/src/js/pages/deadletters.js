// SPDX-License-Identifier: Apache-2.0
// pages/deadletters.js - messages the ingest refused: counts by reason and the
// newest ones with their topic and (shortened) payload. Operators only.
import { api } from '../api.js';
import { dataTable, emptyRow, h, messageLine, setChildren, skeletonRows } from '../dom.js';
import { fmtTime } from '../format.js';

const LIMIT = 100;
const PAYLOAD_SHOWN = 300;

export function render(root, _args, _query, ctx) {
    const msg = messageLine('deadletters-message');
    const chips = h('div', { class: 'chips', 'data-testid': 'deadletter-counts' });
    const cols = [['Time', '14%'], ['Reason', '16%'], ['Topic', '24%'], ['Size', '8%', 'num'], ['Payload', '38%']];
    const table = dataTable(cols, 'deadletters-table');
    skeletonRows(table.tbody, 5, cols.length);
    const refresh = h('button', { type: 'button', class: 'btn btn-quiet', text: 'Refresh' });
    root.append(
        h('div', { class: 'row' }, h('h1', { text: 'Dead letters' }), h('span', { class: 'spacer' }), refresh),
        h('div', { class: 'card' }, h('h2', { text: 'By reason' }), chips),
        msg.el,
        table.el);

    async function load() {
        try {
            const res = await api(`/deadletters?limit=${LIMIT}`, { signal: ctx.signal });
            const counts = Object.entries(res.counts || {}).sort((a, b) => b[1] - a[1]);
            setChildren(chips, counts.length
                ? counts.map(([reason, n]) => h('span', { class: 'chip' }, `${reason}: ${n}`))
                : h('span', { class: 'muted', text: 'None.' }));
            if (!res.deadletters.length) {
                emptyRow(table.tbody, cols.length, 'No dead letters.');
            } else {
                setChildren(table.tbody, res.deadletters.map((d) => {
                    const payload = String(d.payload ?? '');
                    const shown = payload.length > PAYLOAD_SHOWN ? `${payload.slice(0, PAYLOAD_SHOWN)}…` : payload;
                    return h('tr', null,
                        h('td', { text: fmtTime(d.ts_ms), title: d.time || '' }),
                        h('td', { text: d.reason }),
                        h('td', { class: 'mono', text: d.topic, title: d.topic }),
                        h('td', { class: 'num', text: d.size }),
                        h('td', { class: 'mono', text: shown, title: shown }));
                }));
            }
            msg.clear();
        } catch (e) {
            if (e.name === 'AbortError') {
                return;
            }
            msg.error(e.status === 403 ? new Error(`Dead letters need an operator key: ${e.message}`) : e);
            emptyRow(table.tbody, cols.length, '—');
        }
    }
    refresh.addEventListener('click', load);
    load();
}
