#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the MODAX image from Containerfile offline, with buildah (make image).
# No image registry is needed: the Debian 12 base is made here with
# `debootstrap --variant=minbase bookworm` from the Debian mirror of
# /etc/apt/sources.list*, trimmed like debian:bookworm-slim, imported with
# `buildah from scratch` + `buildah add` + `buildah commit` and kept as
# $MODAX_IMAGE_BASE, so only the first run pays for it. The build itself runs
# the Containerfile's RUN steps with chroot isolation (the one that works
# without cgroups) and caches its layers, so a second run without changes is quick.
#
# Environment: MODAX_IMAGE (default localhost/modax:latest), MODAX_IMAGE_BASE
# (localhost/modax-base:bookworm), MODAX_DEBIAN_MIRROR (from the apt sources),
# MODAX_IMAGE_REBASE=1 to make the base again. Needs root (debootstrap, buildah).
set -eu
cd "$(dirname "$0")/.."

IMAGE=${MODAX_IMAGE:-localhost/modax:latest}
BASE_IMAGE=${MODAX_IMAGE_BASE:-localhost/modax-base:bookworm}

say() { echo "build-image: $*"; }
die() { echo "build-image: $*" >&2; exit 1; }

command -v buildah >/dev/null 2>&1 || die "buildah is missing (scripts/install-deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and buildah's storage need it)"

# The first Debian URI of the apt sources (one-line or deb822 form) whose suite
# is $1 (bookworm or bookworm-security).
apt_uri() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null | awk -v suite="$1" '
        /^deb / && $3 == suite { print $2; exit }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri != "") { print uri; exit } }'
}

make_base() {
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (scripts/install-deps.sh installs it)"
    mirror=${MODAX_DEBIAN_MIRROR:-$(apt_uri bookworm)}
    security=$(apt_uri bookworm-security)
    mirror=${mirror:-http://deb.debian.org/debian}
    security=${security:-http://deb.debian.org/debian-security}
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/modax-base.XXXXXX")
    trap 'rm -rf "$work"' EXIT INT TERM
    say "debootstrap --variant=minbase bookworm from $mirror (once; cached as $BASE_IMAGE)"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    root=$work/rootfs
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
        "$mirror" "$mirror" "$security" >"$root/etc/apt/sources.list"
    # As debian:bookworm-slim: no documentation, manuals or locales from later installs,
    # no recommended packages, no package caches left in layers.
    cat >"$root/etc/dpkg/dpkg.cfg.d/modax-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
    cat >"$root/etc/apt/apt.conf.d/modax-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$root/usr/share/man"/* "$root/usr/share/info"/* "$root/var/cache/apt"/*.bin \
        "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/* "$root/var/log"/*.log \
        "$root/var/log/apt"/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    # Through a tar file, so that owners, modes and set-id bits survive the copy.
    tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
    ctr=$(buildah from scratch)
    buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd /bin/bash --label org.opencontainers.image.description="debootstrap minbase bookworm" \
        "$ctr"
    buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
    rm -rf "$work"
    trap - EXIT INT TERM
}

if [ "${MODAX_IMAGE_REBASE:-0}" = 1 ] || ! buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    make_base
else
    say "base $BASE_IMAGE is there (MODAX_IMAGE_REBASE=1 makes it again)"
fi

[ -f web/dist/index.html ] || scripts/build-web.sh

# The commit, with -dirty when tracked files differ from it (modax --version, image label).
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then
    commit="$commit-dirty"
fi

say "buildah bud $IMAGE from $BASE_IMAGE at $commit"
# The label again on the command line: buildah 1.28 reuses a cached LABEL step whose
# ARG changed (RUN steps it does redo).
buildah bud --quiet --layers --pull=never --isolation chroot --network host \
    --build-arg BASE="$BASE_IMAGE" --build-arg MODAX_COMMIT="$commit" \
    --label org.opencontainers.image.revision="$commit" \
    -f Containerfile -t "$IMAGE" . >/dev/null
say "built $IMAGE ($(buildah images --format '{{.Size}}' "$IMAGE" | head -1))"
