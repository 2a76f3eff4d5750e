// SPDX-License-Identifier: Apache-2.0
// format.js - how times and numbers are shown.

export function fmtTime(ms) {
    if (ms === null || ms === undefined) {
        return '—';
    }
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    const today = new Date();
    const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    if (d.toDateString() === today.toDateString()) {
        return hms;
    }
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

// "12 s ago", "3 min ago", ... or the time when older than a day.
export function fmtAgo(ms, now = Date.now()) {
    if (ms === null || ms === undefined) {
        return '—';
    }
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) {
        return `${s} s ago`;
    }
    if (s < 3600) {
        return `${Math.floor(s / 60)} min ago`;
    }
    if (s < 86400) {
        return `${Math.floor(s / 3600)} h ago`;
    }
    return fmtTime(ms);
}

export function fmtNum(v) {
    if (v === null || v === undefined || v === '') {
        return '—';
    }
    if (typeof v !== 'number') {
        return String(v);
    }
    if (Number.isInteger(v) && Math.abs(v) < 1e9) {
        return String(v);
    }
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) {
        return v.toExponential(3);
    }
    return v.toFixed(a >= 100 ? 1 : a >= 10 ? 2 : 3);
}
