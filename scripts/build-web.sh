#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the dashboard into web/dist (served by `modax serve`, api.web_dir):
# installs its npm packages (pinned in web/package-lock.json) when missing,
# then copies the sources and the vendored uPlot (web/build.mjs, no bundler).
set -eu
cd "$(dirname "$0")/../web"
if [ ! -d node_modules/uplot ]; then
    echo "build-web: npm ci in web"
    npm ci --no-audit --no-fund --loglevel=error
fi
node build.mjs
