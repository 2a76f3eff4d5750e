// SPDX-License-Identifier: Apache-2.0
// dom.js - builds DOM nodes. Every text goes in through text nodes, never as
// HTML, so whatever the API returns is shown as text and never interpreted.

// h('td', {class: 'num', dataset: {id: 7}, onclick: fn}, 'text', node, [more])
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) {
            continue;
        }
        if (k === 'class') {
            el.className = v;
        } else if (k === 'text') {
            el.textContent = String(v);
        } else if (k === 'style') {
            el.style.cssText = v; // CSSOM, which the page's Content-Security-Policy allows
        } else if (k === 'dataset') {
            for (const [dk, dv] of Object.entries(v)) {
                el.dataset[dk] = String(dv);
            }
        } else if (k.startsWith('on') && typeof v === 'function') {
            el.addEventListener(k.slice(2), v);
        } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') {
            el[k] = v;
        } else {
            el.setAttribute(k, v === true ? '' : String(v));
        }
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) {
            continue;
        }
        if (Array.isArray(c)) {
            append(el, c);
        } else if (c instanceof Node) {
            el.appendChild(c);
        } else {
            el.appendChild(document.createTextNode(String(c)));
        }
    }
}

// Replaces the children of el.
export function setChildren(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

// Rows of grey bars standing in for data still loading, the table's final height.
export function skeletonRows(tbody, rows, cols) {
    const trs = [];
    for (let r = 0; r < rows; r++) {
        const tds = [];
        for (let c = 0; c < cols; c++) {
            tds.push(h('td', null, h('span', { class: 'skeleton-bar' })));
        }
        trs.push(h('tr', { class: 'skeleton' }, tds));
    }
    setChildren(tbody, trs);
}

// One full-width row saying why the table is empty.
export function emptyRow(tbody, cols, text) {
    setChildren(tbody, h('tr', null, h('td', { colspan: cols, class: 'muted', text })));
}

// A table with fixed column widths: cols = [[title, width, className?], ...].
export function dataTable(cols, testid) {
    const tbody = h('tbody');
    const table = h('table', { class: 'data', 'data-testid': testid },
        h('colgroup', null, cols.map(([, w]) => h('col', { style: w ? `width:${w}` : null }))),
        h('thead', null, h('tr', null, cols.map(([t, , cls]) => h('th', { class: cls, text: t })))),
        tbody);
    return { el: h('div', { class: 'table-wrap' }, table), tbody };
}

export function badge(text, cls) {
    return h('span', { class: `badge st-${cls || text}`, text });
}

// A message line that keeps its height: msg.error(e), msg.ok('Saved'), msg.clear().
export function messageLine(testid) {
    const el = h('p', { class: 'msg', role: 'status', 'data-testid': testid });
    return {
        el,
        error(e) {
            el.className = 'msg error';
            el.textContent = describeError(e);
        },
        ok(text) {
            el.className = 'msg ok';
            el.textContent = text;
        },
        info(text) {
            el.className = 'msg';
            el.textContent = text;
        },
        clear() {
            el.className = 'msg';
            el.textContent = '';
        },
    };
}

export function describeError(e) {
    if (e && e.status !== undefined && e.code) {
        return e.status ? `${e.message} (${e.status} ${e.code})` : e.message;
    }
    return e && e.message ? e.message : String(e);
}
