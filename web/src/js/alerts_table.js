// SPDX-License-Identifier: Apache-2.0
// alerts_table.js - a table of alerts with Acknowledge and Resolve buttons
// (operators and admins), shared by the alerts page and the device page.
import { api, roleAtLeast } from './api.js';
import { badge, dataTable, emptyRow, h, setChildren, skeletonRows } from './dom.js';
import { fmtNum, fmtTime } from './format.js';

// alertsTable({withDevice, msg, onChange}) -> {el, loading(), show(alerts)}
export function alertsTable({ withDevice, msg, onChange, testid }) {
    const cols = [
        ['Opened', withDevice ? '10%' : '12%'],
        ...(withDevice ? [['Device', '10%']] : []),
        ['Severity', '10%'], ['State', '13%'], ['Sensor', withDevice ? '11%' : '12%'],
        ['Summary', withDevice ? '18%' : '25%'], ['Value', '7%', 'num'], ['', '21%'],
    ];
    const table = dataTable(cols, testid || 'alerts-table');
    const canAct = roleAtLeast('operator');

    function row(a) {
        const ack = h('button', {
            type: 'button', class: 'btn btn-small', 'data-testid': 'alert-ack',
            disabled: !canAct || a.state !== 'open', text: 'Acknowledge',
        });
        const resolve = h('button', {
            type: 'button', class: 'btn btn-small btn-quiet', 'data-testid': 'alert-resolve',
            disabled: !canAct || a.state === 'resolved', text: 'Resolve',
        });
        const tr = h('tr', { dataset: { alertId: a.id, state: a.state } },
            h('td', { text: fmtTime(a.opened_ms), title: a.opened || '' }),
            withDevice ? h('td', null, h('a', { href: `#/devices/${encodeURIComponent(a.device)}`, text: a.device })) : null,
            h('td', null, badge(a.severity)),
            h('td', { 'data-testid': 'alert-state' }, badge(a.state)),
            h('td', { text: a.sensor || a.source || '—' }),
            h('td', { class: 'wrap', text: a.summary || '' }),
            h('td', { class: 'num', text: fmtNum(a.value) }),
            h('td', null, h('span', { class: 'btn-group' }, ack, resolve)));
        const act = (verb) => async () => {
            ack.disabled = true;
            resolve.disabled = true;
            try {
                const updated = await api(`/alerts/${encodeURIComponent(a.id)}/${verb}`, { method: 'POST' });
                tr.replaceWith(row(updated));
                msg.ok(`Alert ${a.id} ${updated.state}.`);
                if (onChange) {
                    onChange(updated);
                }
            } catch (e) {
                msg.error(e);
                ack.disabled = !canAct || a.state !== 'open';
                resolve.disabled = !canAct || a.state === 'resolved';
            }
        };
        ack.addEventListener('click', act('ack'));
        resolve.addEventListener('click', act('resolve'));
        return tr;
    }

    return {
        el: table.el,
        loading() {
            skeletonRows(table.tbody, 4, cols.length);
        },
        show(alerts, emptyText) {
            if (!alerts.length) {
                emptyRow(table.tbody, cols.length, emptyText || 'No alerts.');
            } else {
                setChildren(table.tbody, alerts.map(row));
            }
        },
    };
}
