// SPDX-License-Identifier: Apache-2.0
// pages/login.js - asks for an API key, checks it with GET /api/v1/me and keeps
// it in sessionStorage (gone when the tab closes).
import { api, session } from '../api.js';
import { h, messageLine } from '../dom.js';

export function render(root, _args, _query, ctx) {
    const msg = messageLine('login-message');
    const notice = ctx.takeNotice();
    if (notice) {
        msg.info(notice);
    }
    const input = h('input', {
        type: 'password', id: 'api-key', name: 'api-key', autocomplete: 'off',
        spellcheck: 'false', placeholder: 'mdx_…', required: true, 'data-testid': 'login-key',
    });
    const button = h('button', { type: 'submit', class: 'btn', 'data-testid': 'login-submit' }, 'Log in');
    const form = h('form', { class: 'card login', novalidate: true },
        h('h1', { text: 'MODAX Cloud' }),
        h('p', { class: 'muted' }, 'Log in with an API key (',
            h('code', { text: 'modax key add --tenant NAME --role operator' }), ').'),
        h('label', { class: 'field', for: 'api-key' }, 'API key', input),
        msg.el,
        button);

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const key = input.value.trim();
        if (!key) {
            msg.error(new Error('Enter an API key.'));
            return;
        }
        button.disabled = true;
        msg.info('Checking the key…');
        try {
            const me = await api('/me', { key, signal: ctx.signal });
            session.save(key, me);
            const next = sessionStorage.getItem('modax.next');
            sessionStorage.removeItem('modax.next');
            location.hash = next && next !== '/login' ? `#${next}` : '#/fleet';
        } catch (e) {
            if (e.name === 'AbortError') {
                return;
            }
            if (e.status === 401) {
                msg.error(new Error(`The key was refused: ${e.message}. Check it was copied whole and is not revoked.`));
            } else {
                msg.error(e);
            }
            button.disabled = false;
            input.focus();
        }
    });
    root.append(form);
    input.focus();
}
