// SPDX-License-Identifier: Apache-2.0
// api.js - the calls to /api/v1: the API key (kept in sessionStorage for the
// tab's life), JSON requests whose errors become ApiError with the server's
// code and message, and the live stream read with fetch() so that the key
// goes in the Authorization header (EventSource cannot send headers).

const KEY = 'modax.key';
const ME = 'modax.me';

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

export const session = {
    key: () => sessionStorage.getItem(KEY),
    me() {
        try {
            return JSON.parse(sessionStorage.getItem(ME) || 'null');
        } catch {
            return null;
        }
    },
    save(key, me) {
        sessionStorage.setItem(KEY, key);
        sessionStorage.setItem(ME, JSON.stringify(me));
    },
    clear() {
        sessionStorage.removeItem(KEY);
        sessionStorage.removeItem(ME);
    },
};

// Roles in increasing power; the platform key is not a tenant role.
const ROLES = ['viewer', 'operator', 'admin'];
export function roleAtLeast(role) {
    const me = session.me();
    return !!me && ROLES.indexOf(me.role) >= ROLES.indexOf(role);
}

function headers(key, json) {
    const h = { Accept: 'application/json' };
    if (key) {
        h.Authorization = `Bearer ${key}`;
    }
    if (json) {
        h['Content-Type'] = 'application/json';
    }
    return h;
}

async function errorOf(res) {
    let code = `http_${res.status}`;
    let message = `The server answered ${res.status} ${res.statusText}`.trim();
    try {
        const body = await res.json();
        if (body && body.error) {
            code = String(body.error.code || code);
            message = String(body.error.message || message);
        }
    } catch {
        // Not JSON (a proxy's page, say): keep the status line.
    }
    if (res.status === 429) {
        const after = res.headers.get('Retry-After');
        if (after) {
            message += ` (retry in ${after} s)`;
        }
    }
    return new ApiError(res.status, code, message);
}

function networkError(e) {
    return new ApiError(0, 'network', `Cannot reach the server: ${e.message}`);
}

// A 401 on any call after login means the key is gone (revoked, say): the
// app listens for this and returns to the login page.
function unauthorized(err) {
    window.dispatchEvent(new CustomEvent('modax:unauthorized', { detail: err }));
}

// api('/devices') or api('/alerts/3/ack', {method: 'POST'}); options.key
// overrides the stored key (the login check). Resolves to the JSON body, null
// for 204; rejects with ApiError.
export async function api(path, options = {}) {
    const key = options.key || session.key();
    const json = options.body !== undefined;
    let res;
    try {
        res = await fetch(`/api/v1${path}`, {
            method: options.method || 'GET',
            headers: headers(key, json),
            body: json ? JSON.stringify(options.body) : undefined,
            signal: options.signal,
            cache: 'no-store',
        });
    } catch (e) {
        if (e.name === 'AbortError') {
            throw e;
        }
        throw networkError(e);
    }
    if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401 && !options.key) {
            unauthorized(err);
        }
        throw err;
    }
    if (res.status === 204) {
        return null;
    }
    return res.json();
}

// Query string from an object, leaving out empty values.
export function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null && v !== '') {
            p.set(k, String(v));
        }
    }
    const s = p.toString();
    return s ? `?${s}` : '';
}

// Reads GET /api/v1/stream until signal aborts, reconnecting after a break
// (1 s, doubling to 15 s). onEvent(type, data) gets each event with its JSON
// data parsed; onState(connected: bool, error?) tells the page.
export async function readStream(params, { onEvent, onState, signal }) {
    let wait = 1000;
    while (!signal.aborted) {
        try {
            const res = await fetch(`/api/v1/stream${qs(params)}`, {
                headers: { ...headers(session.key(), false), Accept: 'text/event-stream' },
                signal,
                cache: 'no-store',
            });
            if (!res.ok) {
                const err = await errorOf(res);
                if (res.status === 401) {
                    unauthorized(err);
                    return;
                }
                throw err;
            }
            onState(true);
            wait = 1000;
            await parseEvents(res.body, onEvent);
            onState(false, new ApiError(0, 'network', 'The live stream ended; reconnecting'));
        } catch (e) {
            if (signal.aborted) {
                return;
            }
            onState(false, e.status !== undefined ? e : networkError(e));
        }
        await new Promise((resolve) => {
            const t = setTimeout(resolve, wait);
            signal.addEventListener('abort', () => {
                clearTimeout(t);
                resolve();
            }, { once: true });
        });
        wait = Math.min(wait * 2, 15000);
    }
}

// The text/event-stream format: "field: value" lines, an empty line ends an
// event, lines starting with ":" are comments (the server's pings).
async function parseEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let type = '';
    let data = [];
    for (;;) {
        const { value, done } = await reader.read();
        if (done) {
            return;
        }
        buf += value;
        let nl;
        while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
            if (buf[nl] === '\r' && nl === buf.length - 1) {
                break; // a "\r\n" split between two reads: wait for the rest
            }
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
            if (line === '') {
                if (data.length) {
                    dispatch(type || 'message', data.join('\n'), onEvent);
                }
                type = '';
                data = [];
            } else if (line[0] !== ':') {
                const colon = line.indexOf(':');
                const field = colon < 0 ? line : line.slice(0, colon);
                let val = colon < 0 ? '' : line.slice(colon + 1);
                if (val[0] === ' ') {
                    val = val.slice(1);
                }
                if (field === 'event') {
                    type = val;
                } else if (field === 'data') {
                    data.push(val);
                }
            }
        }
        if (buf.length > 1 << 20) {
            throw new ApiError(0, 'stream', 'The live stream sent an event over 1 MiB');
        }
    }
}

function dispatch(type, text, onEvent) {
    let data;
    try {
        data = JSON.parse(text);
    } catch {
        return; // not ours to show; the stream goes on
    }
    onEvent(type, data);
}
