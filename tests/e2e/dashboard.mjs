// SPDX-License-Identifier: Apache-2.0
// dashboard.mjs - the dashboard end to end in a real headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core; no downloaded
// browser). Starts everything itself on loopback: Mosquitto with the
// project's config, `modax serve --roles ingest,api` serving a fresh build of
// web/, and a simulated fleet (modax-edge). Then, in the browser: a wrong key
// is refused, the right one logs in, the fleet lists the devices, a device's
// chart grows live, a command beyond the limits is refused and one within
// them is acknowledged by the simulated device, an alert is acknowledged;
// then the fleet page at tablet (landscape and portrait) and phone (390 x 844)
// sizes: no column header cut, "Log out" wholly on screen, the page itself
// not wider than the screen (a wide table scrolls inside its frame).
// Screenshots of each step go to $MODAX_TEST_OUT (default
// $MODAX_BIN_DIR/test-output/e2e). Every process is stopped at the end, also
// on failure. Run: MODAX_BIN_DIR=build node tests/e2e/dashboard.mjs
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(process.env.MODAX_SOURCE_DIR || join(here, '..', '..'));
const BIN = resolve(process.env.MODAX_BIN_DIR || join(SRC, 'build'));
const OUT = resolve(process.env.MODAX_TEST_OUT || join(BIN, 'test-output', 'e2e'));
const CHROMIUM = process.env.MODAX_CHROMIUM || '/usr/bin/chromium';
const TENANT = 'acme';
const DEVICE = 'm-0001';
const WAIT_MS = 60000; // how long to wait for something that should happen (not a speed target)

// playwright-core is pinned in tests/js (with the other npm packages of the tests).
const require = createRequire(join(SRC, 'tests', 'js', 'package.json'));
const { chromium } = require('playwright-core');

const children = [];
let workDir = null;
let failures = 0;
let step = 0;

function log(text) {
    console.log(`e2e: ${text}`);
}

function check(ok, what) {
    if (ok) {
        log(`ok   ${what}`);
    } else {
        failures++;
        log(`FAIL ${what}`);
    }
    return ok;
}

function freePort() {
    return new Promise((res, rej) => {
        const srv = net.createServer();
        srv.on('error', rej);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => res(port));
        });
    });
}

function portOpen(port) {
    return new Promise((res) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => {
            s.destroy();
            res(true);
        });
        s.on('error', () => res(false));
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws naming what did not happen.
async function waitFor(what, fn, ms = WAIT_MS) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (Date.now() > end) {
            throw new Error(`gave up after ${ms / 1000} s waiting for ${what}`);
        }
        await sleep(200);
    }
}

function start(name, cmd, args, env, dir) {
    const fd = openSync(join(dir, `${name}.log`), 'a');
    const child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.name = name;
    child.exited = new Promise((res) => child.on('exit', (code, sig) => res(sig || code)));
    child.on('error', (e) => log(`${name}: ${e.message}`));
    children.push(child);
    return child;
}

// Stops a child with SIGTERM (SIGKILL after 15 s); its exit code, or the signal's name.
async function stop(child) {
    if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const done = await Promise.race([child.exited, sleep(15000).then(() => 'timeout')]);
        if (done === 'timeout') {
            log(`${child.name} ignored SIGTERM; killing it`);
            child.kill('SIGKILL');
        }
    }
    return child.exited;
}

// The fleet first, then the service, then the broker: the reverse of the start.
// modax serve and modax-edge must exit cleanly (0) on SIGTERM: under the
// sanitizers a leak or an error report makes that fail.
async function stopAll() {
    for (const c of children.slice().reverse()) {
        const code = await stop(c);
        if (c.name !== 'mosquitto') {
            check(code === 0, `${c.name} exited cleanly on SIGTERM (${code}; see its log)`);
        }
    }
}

// Last resort when node exits on an uncaught error: no child outlives the test.
process.on('exit', () => {
    for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) {
            c.kill('SIGKILL');
        }
    }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => process.exit(130));
}

function modax(env, ...args) {
    const r = spawnSync(join(BIN, 'modax'), args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
        throw new Error(`modax ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error || ''}`);
    }
    return r.stdout;
}

async function http(port, path, key, options = {}) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: options.method || 'GET',
        headers: key ? { Authorization: `Bearer ${key}` } : {},
    });
    const text = await res.text();
    let body = null;
    try {
        body = JSON.parse(text);
    } catch {
        body = text;
    }
    return { status: res.status, body };
}

async function shot(page, name) {
    step++;
    const file = join(OUT, `${String(step).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    log(`screenshot ${file}`);
}

async function main() {
    for (const [what, path] of [['modax', join(BIN, 'modax')], ['modax-edge', join(BIN, 'edge', 'modax-edge')],
        ['chromium', CHROMIUM], ["the dashboard's npm packages (scripts/build-web.sh)", join(SRC, 'web', 'node_modules', 'uplot')]]) {
        if (!existsSync(path)) {
            throw new Error(`${what} not found at ${path}`);
        }
    }
    mkdirSync(OUT, { recursive: true });
    const dir = mkdtempSync('/tmp/modax-test-e2e-');
    workDir = dir;
    log(`work dir ${dir}, screenshots in ${OUT}`);

    // The dashboard as it is in the source tree now, built into the work dir.
    const webDir = join(dir, 'web');
    const build = spawnSync(process.execPath, [join(SRC, 'web', 'build.mjs'), webDir], { encoding: 'utf8' });
    if (build.status !== 0) {
        throw new Error(`web/build.mjs failed: ${build.stderr}`);
    }

    // Mosquitto: the project's config with the test's listener and persistence dir.
    const mqttPort = await freePort();
    const conf = readFileSync(join(SRC, 'conf', 'mosquitto.conf'), 'utf8')
        .split('\n').filter((l) => !l.startsWith('listener') && !l.startsWith('persistence_location')).join('\n');
    writeFileSync(join(dir, 'mosquitto.conf'), `${conf}\nlistener ${mqttPort} 127.0.0.1\npersistence_location ${dir}/\n` +
        (process.getuid() === 0 ? 'user root\n' : ''));
    const broker = start('mosquitto', 'mosquitto', ['-c', join(dir, 'mosquitto.conf')], process.env, dir);
    await waitFor(`mosquitto on port ${mqttPort} (see ${dir}/mosquitto.log)`, async () => {
        if (broker.exitCode !== null) {
            throw new Error(`mosquitto exited; see ${dir}/mosquitto.log`);
        }
        return portOpen(mqttPort);
    }, 10000);

    const apiPort = await freePort();
    const env = { ...process.env };
    delete env.MODAX_CONFIG;
    Object.assign(env, {
        MODAX_STORE_SQLITE_PATH: join(dir, 'modax.db'),
        MODAX_INGEST_SPOOL_DIR: join(dir, 'spool'),
        MODAX_MQTT_HOST: '127.0.0.1',
        MODAX_MQTT_PORT: String(mqttPort),
        MODAX_API_LISTEN: '127.0.0.1',
        MODAX_API_PORT: String(apiPort),
        MODAX_API_WEB_DIR: webDir,
        MODAX_LOG_FORMAT: 'json',
    });

    modax(env, 'tenant', 'add', TENANT);
    modax(env, 'device', 'add', TENANT, DEVICE);
    modax(env, 'device', 'add', TENANT, 'm-0002');
    modax(env, 'device', 'set-limits', TENANT, DEVICE, '{"speed_pct":{"min":0,"max":100}}');
    // A rule that fires at once on m-0001 (any temperature > 0), so an alert is there to acknowledge.
    modax(env, 'rule', 'add', TENANT, '--name', 'e2e_warm', '--sensor', 'temperature_mean', '--cmp', 'gt',
        '--threshold', '0', '--device', DEVICE, '--severity', 'warning');
    const key = modax(env, 'key', 'add', '--tenant', TENANT, '--role', 'admin', '--label', 'e2e').split('\n')[0].trim();
    check(/^mdx_/.test(key), 'modax key add printed a key');

    const ready = join(dir, 'serve.ready');
    const serve = start('serve', join(BIN, 'modax'), ['serve', '--roles', 'ingest,api', '--ready-file', ready], env, dir);
    await waitFor(`modax serve ready (see ${dir}/serve.log)`, () => {
        if (serve.exitCode !== null) {
            throw new Error(`modax serve exited (${serve.exitCode}); see ${dir}/serve.log`);
        }
        return existsSync(ready);
    });
    await waitFor(`the API on port ${apiPort}`, () => portOpen(apiPort));

    start('fleet', join(BIN, 'edge', 'modax-edge'), ['--port', String(mqttPort), '--tenant', TENANT,
        '--machines', '2', '--client-id', 'modax-edge-e2e', '--quiet'], env, dir);

    // The rule's alert, raised by the ingest from the simulated readings.
    const alert = await waitFor('an open alert on m-0001', async () => {
        const r = await http(apiPort, `/api/v1/alerts?device=${DEVICE}&state=open`, key);
        return r.status === 200 && r.body.alerts.length ? r.body.alerts[0] : null;
    });
    log(`alert ${alert.id} open: ${alert.summary}`);

    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // root (CI containers) cannot use Chromium's sandbox.
        args: process.getuid() === 0 ? ['--no-sandbox'] : [],
    });
    try {
        await inBrowser(browser, apiPort, key, alert);
        for (const size of SIZES) {
            await fleetAtSize(browser, apiPort, key, size);
        }
    } finally {
        await browser.close();
    }

    const after = await http(apiPort, `/api/v1/alerts/${alert.id}`, key);
    check(after.status === 200 && after.body.state === 'acknowledged', 'the API reports the alert acknowledged');
}

// Screen sizes (CSS pixels) the fleet page must fit: tablets in a plant, and a phone.
const SIZES = [
    { name: 'tablet', width: 1180, height: 820 },
    { name: 'tablet-portrait', width: 820, height: 1180 },
    { name: 'phone', width: 390, height: 844 },
];

// The fleet page at one screen size: logs in, waits for the values, checks that
// nothing is cut, and saves a screenshot (fleet-<size>.png).
async function fleetAtSize(browser, apiPort, key, size) {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height },
        deviceScaleFactor: 1, isMobile: size.name === 'phone', hasTouch: size.name !== 'tablet' });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const what = `${size.name} ${size.width}x${size.height}`;
    await page.goto(`http://127.0.0.1:${apiPort}/`);
    await page.waitForURL(/#\/login$/);
    await page.fill('[data-testid=login-key]', key);
    await page.click('[data-testid=login-submit]');
    await page.waitForURL(/#\/fleet$/);
    await page.waitForFunction((d) => {
        const r = document.querySelector(`[data-testid=fleet-table] tr[data-device="${d}"]`);
        return r && r.cells[5].textContent !== '—';
    }, DEVICE);
    const m = await page.evaluate(() => {
        const cut = (el) => el.scrollWidth > el.clientWidth;
        const shown = (el) => el.getClientRects().length > 0; // not display: none
        const heads = [...document.querySelectorAll('[data-testid=fleet-table] thead th')].filter(shown);
        const cells = [...document.querySelectorAll('[data-testid=fleet-table] tbody td')].filter(shown);
        const out = document.getElementById('logout').getBoundingClientRect();
        const vw = document.documentElement.clientWidth;
        return {
            heads: heads.map((th) => th.textContent),
            cutHeads: heads.filter(cut).map((th) => `${th.textContent} (${th.clientWidth} of ${th.scrollWidth} px)`),
            cutCells: cells.filter(cut).map((td) => td.textContent),
            logout: { left: out.left, right: out.right, top: out.top, bottom: out.bottom },
            logoutText: document.getElementById('logout').scrollWidth <= document.getElementById('logout').clientWidth,
            vw,
            vh: window.innerHeight,
            pageWidth: document.documentElement.scrollWidth,
        };
    });
    // A phone leaves out Type and Last seen; every other column is there, none cut.
    const want = size.width < 700 ? 7 : 9;
    check(m.heads.length === want && ['Device', 'Status', 'Alerts', 'RUL'].every((t) => m.heads.includes(t)) &&
        m.cutHeads.length === 0,
        `${what}: ${m.heads.length} fleet column headers (${m.heads.join(', ')}) shown whole` +
        `${m.cutHeads.length ? `; cut: ${m.cutHeads.join(', ')}` : ''}`);
    check(m.cutCells.length === 0, `${what}: no fleet cell cut${m.cutCells.length ? `: ${m.cutCells.join(', ')}` : ''}`);
    check(m.logout.left >= 0 && m.logout.right <= m.vw && m.logout.top >= 0 && m.logout.bottom <= m.vh && m.logoutText,
        `${what}: "Log out" wholly inside the screen (${Math.round(m.logout.left)}..${Math.round(m.logout.right)} of ${m.vw} px)`);
    check(m.pageWidth <= m.vw, `${what}: the page is no wider than the screen (${m.pageWidth} of ${m.vw} px)`);
    await shot(page, `fleet-${size.name}`);
    await context.close();
}

async function inBrowser(browser, apiPort, key, alert) {
    const context = await browser.newContext({ viewport: { width: 1180, height: 820 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
        if (m.type() === 'error') {
            log(`browser console: ${m.text()}`);
            if (/Content Security Policy/.test(m.text())) {
                pageErrors.push(m.text()); // the page broke its own CSP: something was blocked
            }
        }
    });
    page.setDefaultTimeout(WAIT_MS);
    const base = `http://127.0.0.1:${apiPort}`;

    // Login: a wrong key is refused with a clear message, the right one gets in.
    await page.goto(`${base}/`);
    await page.waitForURL(/#\/login$/);
    await page.fill('[data-testid=login-key]', 'mdx_0000000000000000_wrong');
    await page.click('[data-testid=login-submit]');
    const refused = page.locator('[data-testid=login-message].error');
    await refused.waitFor();
    check(/refused/i.test(await refused.textContent()), 'a wrong key is refused on the login page');
    await shot(page, 'login-refused');
    await page.fill('[data-testid=login-key]', key);
    await page.click('[data-testid=login-submit]');
    await page.waitForURL(/#\/fleet$/);

    // Fleet: both devices listed, m-0001 with its open alert.
    const row = page.locator(`[data-testid=fleet-table] tr[data-device="${DEVICE}"]`);
    await row.waitFor();
    check(await page.locator('[data-testid=fleet-table] tr[data-device]').count() === 2, 'the fleet lists the 2 devices');
    await page.waitForFunction((d) => {
        const r = document.querySelector(`[data-testid=fleet-table] tr[data-device="${d}"]`);
        return r && r.cells[5].textContent !== '—';
    }, DEVICE);
    check(Number(await row.locator('td').nth(4).textContent()) >= 1, 'the fleet shows m-0001 has an active alert');
    // The RUL column (GET /api/v1/rul): no model is active here, so a dash with the reason as tooltip.
    const rul = row.locator('[data-testid=rul]');
    check((await rul.textContent()) === '—' && /no prediction/i.test(await rul.getAttribute('title')),
        'the fleet shows the RUL column, empty without a model');
    await shot(page, 'fleet');

    // Device page: the temperature chart grows live from the stream.
    await row.locator('a').click();
    await page.waitForURL(new RegExp(`#/devices/${DEVICE}`));
    const chart = page.locator('[data-testid=chart][data-sensor=temperature_mean]');
    await chart.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=live-state]').textContent === 'Live');
    await page.waitForFunction(() => {
        const c = document.querySelector('[data-testid=chart][data-sensor=temperature_mean]');
        return c && Number(c.dataset.points) > 0 && c.querySelector('canvas');
    });
    const first = { points: Number(await chart.getAttribute('data-points')), ts: Number(await chart.getAttribute('data-last-ts')) };
    await shot(page, 'device');
    await page.waitForFunction((ts) => {
        const c = document.querySelector('[data-testid=chart][data-sensor=temperature_mean]');
        return Number(c.dataset.lastTs) > ts;
    }, first.ts);
    const later = { points: Number(await chart.getAttribute('data-points')), ts: Number(await chart.getAttribute('data-last-ts')) };
    check(later.ts > first.ts && later.points > first.points,
        `the chart updated live (${first.points} -> ${later.points} points, last at ${later.ts} after ${first.ts})`);
    check((await chart.locator('[data-testid=last-value]').textContent()) !== '—', 'the chart shows the last value');
    check(await page.locator('[data-testid=device-limits] tr[data-param=speed_pct]').count() === 1,
        'the device page shows the speed_pct limit');
    await shot(page, 'device-live');

    // The range picker: the last hour, downsampled by the server, still has the points.
    await page.click('[data-range="1h"]');
    await page.waitForSelector('[data-range="1h"][aria-pressed=true]');
    await page.waitForFunction(() => {
        const c = document.querySelector('[data-testid=chart][data-sensor=temperature_mean]');
        return !c.querySelector('.chart-box.loading') && Number(c.dataset.points) > 0;
    });
    check((await page.locator('[data-testid=device-message]').textContent()) === '',
        'the 1 h range loads without an error');

    // A command beyond the limits is refused by the API, and the page says why.
    await page.fill('[data-testid=command-name]', 'speed_pct');
    await page.fill('[data-testid=command-value]', '150');
    await page.click('[data-testid=command-send]');
    const cmdMsg = page.locator('[data-testid=command-message].error');
    await cmdMsg.waitFor();
    check(/422/.test(await cmdMsg.textContent()), 'a command beyond the limits is refused (422 shown)');

    // One within the limits: the simulated device acknowledges it.
    await page.fill('[data-testid=command-value]', '42');
    await page.click('[data-testid=command-send]');
    const sent = page.locator('[data-testid=device-commands] tr[data-command-id]').first();
    await sent.waitFor();
    await page.waitForFunction(() => {
        const r = document.querySelector('[data-testid=device-commands] tr[data-command-id]');
        return r && r.dataset.state !== 'sent';
    });
    check(await sent.getAttribute('data-state') === 'acked', 'the command was acknowledged by the device ("acked")');
    await shot(page, 'command-acked');

    // Alerts page: acknowledge the rule's alert.
    await page.click('a[data-nav=alerts]');
    const alertRow = page.locator(`[data-testid=alerts-table] tr[data-alert-id="${alert.id}"]`);
    await alertRow.waitFor();
    check(await alertRow.getAttribute('data-state') === 'open', 'the alert is listed as open');
    await shot(page, 'alerts');
    await alertRow.locator('[data-testid=alert-ack]').click();
    await page.waitForSelector(`[data-testid=alerts-table] tr[data-alert-id="${alert.id}"][data-state=acknowledged]`);
    const stateText = await page.locator(`[data-testid=alerts-table] tr[data-alert-id="${alert.id}"] [data-testid=alert-state]`).textContent();
    check(stateText === 'acknowledged', 'the alert shows acknowledged');
    await shot(page, 'alert-acknowledged');

    // Dead letters: the page loads for an admin without an error.
    await page.click('a[data-nav=deadletters]');
    await page.waitForSelector('[data-testid=deadletters-table] tbody tr:not(.skeleton)');
    check((await page.locator('[data-testid=deadletters-message]').textContent()) === '', 'the dead letters page loads');
    await shot(page, 'deadletters');

    check(pageErrors.length === 0, `no script errors or CSP violations in the page${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
    await context.close();
}

try {
    await main();
} catch (e) {
    failures++;
    log(`FAIL ${e.stack || e}`);
} finally {
    await stopAll();
}
if (failures) {
    log(`${failures} failure(s); logs kept in ${workDir || '(no work dir yet)'}`);
    process.exit(1);
}
rmSync(workDir, { recursive: true, force: true });
log('passed');
