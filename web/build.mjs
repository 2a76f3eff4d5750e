// SPDX-License-Identifier: Apache-2.0
// build.mjs - builds the dashboard into dist/: copies the plain ES modules,
// HTML and CSS of src/ as they are (no bundler) and vendors uPlot (its ESM
// build, its stylesheet and its MIT licence) from node_modules, so the
// dashboard works offline. Usage: node build.mjs [OUT_DIR]  (default dist)
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const out = resolve(process.argv[2] || join(here, 'dist'));
const uplot = join(here, 'node_modules', 'uplot');

const vendored = [
    [join(uplot, 'dist', 'uPlot.esm.js'), 'uPlot.esm.js'],
    [join(uplot, 'dist', 'uPlot.min.css'), 'uPlot.min.css'],
    [join(uplot, 'LICENSE'), 'LICENSE'],
];
for (const [from] of vendored) {
    if (!existsSync(from)) {
        console.error(`build-web: ${from} is missing; run "npm ci" in web/ first`);
        process.exit(1);
    }
}

// Build next to the output and swap, so a running server never serves a half-copied tree.
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
cpSync(src, tmp, { recursive: true });
const vendorDir = join(tmp, 'vendor', 'uplot');
mkdirSync(vendorDir, { recursive: true });
for (const [from, name] of vendored) {
    cpSync(from, join(vendorDir, name));
}
rmSync(out, { recursive: true, force: true });
cpSync(tmp, out, { recursive: true });
rmSync(tmp, { recursive: true, force: true });

function count(dir) {
    let n = 0;
    for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        n += statSync(p).isDirectory() ? count(p) : 1;
    }
    return n;
}
console.log(`build-web: ${count(out)} files in ${out}`);
