// SPDX-License-Identifier: Apache-2.0
// main.js - the dashboard's shell: hash routes to pages, the top bar, and the
// page's lifetime (each page gets an AbortSignal that stops its requests,
// timers and live stream when the user leaves it).
import { session } from './api.js';
import { h } from './dom.js';
import * as login from './pages/login.js';
import * as fleet from './pages/fleet.js';
import * as device from './pages/device.js';
import * as alerts from './pages/alerts.js';
import * as deadletters from './pages/deadletters.js';

const routes = [
    [/^\/login$/, login, 'login'],
    [/^\/fleet$/, fleet, 'fleet'],
    [/^\/devices\/([^/]+)$/, device, 'fleet'],
    [/^\/alerts$/, alerts, 'alerts'],
    [/^\/deadletters$/, deadletters, 'deadletters'],
];

const app = document.getElementById('app');
const topbar = document.getElementById('topbar');
let current = null; // AbortController of the page shown
let loginNotice = '';

function pageContext(controller) {
    const signal = controller.signal;
    return {
        signal,
        // setInterval that stops with the page.
        every(fn, ms) {
            const t = setInterval(fn, ms);
            signal.addEventListener('abort', () => clearInterval(t), { once: true });
        },
        // Consumes the notice left by a forced logout (shown once, on the login page).
        takeNotice() {
            const n = loginNotice;
            loginNotice = '';
            return n;
        },
    };
}

function showTopbar(me) {
    topbar.hidden = !me;
    if (me) {
        document.getElementById('who').textContent =
            `${me.tenant || 'platform'} · ${me.role}`;
    }
}

function route() {
    const raw = location.hash.replace(/^#/, '') || '/fleet';
    const [path, query] = raw.split('?');
    const me = session.me();
    if (!session.key() || !me) {
        if (path !== '/login') {
            sessionStorage.setItem('modax.next', raw);
            location.replace('#/login');
            return;
        }
    }
    let found = null;
    let args = [];
    for (const [re, page, nav] of routes) {
        const m = re.exec(path);
        if (m) {
            found = { page, nav };
            args = m.slice(1).map(decodeURIComponent);
            break;
        }
    }
    if (current) {
        current.abort();
    }
    current = new AbortController();
    showTopbar(path === '/login' ? null : me);
    for (const a of document.querySelectorAll('[data-nav]')) {
        a.classList.toggle('active', !!found && a.dataset.nav === found.nav);
    }
    app.replaceChildren();
    window.scrollTo(0, 0);
    if (!found) {
        app.append(h('div', { class: 'card' }, h('h1', { text: 'Not found' }),
            h('p', null, 'No page at ', h('code', { text: path }), '. ',
                h('a', { href: '#/fleet', text: 'Back to the fleet' }))));
        return;
    }
    found.page.render(app, args, new URLSearchParams(query || ''), pageContext(current));
}

document.getElementById('logout').addEventListener('click', () => {
    session.clear();
    location.hash = '#/login';
});

window.addEventListener('modax:unauthorized', (ev) => {
    if (!session.key()) {
        return;
    }
    session.clear();
    loginNotice = `You were logged out: the server refused the key (${ev.detail.message}).`;
    location.hash = '#/login';
});

window.addEventListener('hashchange', route);
route();
