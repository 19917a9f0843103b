#!/usr/bin/env bash
# Builds a draft-enabled libzmq for the interop tests of the draft socket types
# (CLIENT/SERVER, SCATTER/GATHER, PEER/CHANNEL, RADIO/DISH).
#
# Debian's libzmq3-dev compiles the draft socket types in but exports none of the draft
# functions (zmq_msg_routing_id, zmq_join, ...), and pyzmq's wheels have no drafts
# either. So this builds libzmq from Debian's own source package (zeromq3) with
# `cmake -DENABLE_DRAFTS=ON` and installs it into .venv-drafts/ (git-ignored, next to
# .venv). A rerun finds the installed library and does nothing.
#
#   scripts/draft-libzmq.sh [PREFIX]     (default PREFIX: .venv-drafts)
#
# Needs root for apt (a deb-src entry made from the existing apt sources, cmake,
# dpkg-dev). The tests find the library through RINGMQ_DRAFT_LIBZMQ (set by
# scripts/test.sh) or .venv-drafts/ in the workspace; without it they FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=$(realpath -m "${1:-.venv-drafts}")
if [ -e "$prefix/lib/libzmq.so" ] && [ -e "$prefix/include/zmq.h" ] &&
    [ -e "$prefix/.ringmq-drafts-ok" ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "==> the draft-enabled libzmq is missing and building it needs root and apt:" \
        "run scripts/draft-libzmq.sh as root; the draft interop tests will FAIL" >&2
    exit 1
fi

apt_quiet() { DEBIAN_FRONTEND=noninteractive apt-get "$@" -y -qq; }

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v c++ >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)

# A deb-src entry for every deb entry of the existing sources (deb822 and one-line
# formats), unless the sources already have one.
src_list=/etc/apt/sources.list.d/ringmq-deb-src.sources
has_deb_src() {
    grep -rhsqE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
added_src=0
if ! has_deb_src; then
    echo "==> adding deb-src entries ($src_list) made from the apt sources"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] && [ "$f" != "$src_list" ] || continue
            # Keep the stanzas whose URIs are Debian archives; only the type changes.
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /URIs:[^\n]*debian/ && /Types:[^\n]*deb/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
    done >"$src_list.tmp"
    mv "$src_list.tmp" "$src_list"
    if [ -e /etc/apt/sources.list ] && grep -qE '^deb [^#]*debian' /etc/apt/sources.list; then
        grep -E '^deb [^#]*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            >/etc/apt/sources.list.d/ringmq-deb-src.list
    fi
    added_src=1
fi
if [ "$added_src" = 1 ] || [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing ${need[*]} (to build the draft-enabled libzmq)"
    apt_quiet install "${need[@]}"
fi

work="$prefix.build"
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work" # apt's _apt user downloads into it
echo "==> apt-get source zeromq3 (into $work)"
(cd "$work" && apt-get source -qq zeromq3 >/dev/null)
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'zeromq3-*' | head -n1)
[ -n "$src" ] || { echo "apt-get source zeromq3 gave no source tree" >&2; exit 1; }

echo "==> building libzmq with drafts ($src -> $prefix)"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
    -DENABLE_DRAFTS=ON -DBUILD_TESTS=OFF -DBUILD_STATIC=OFF -DWITH_DOCS=OFF \
    -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=OFF -DWITH_PERF_TOOL=OFF >"$work/cmake.log"
cmake --build "$work/build" -j"$(nproc)" >"$work/build.log"
cmake --install "$work/build" >"$work/install.log"
rm -rf "$work"

# Check the draft functions really are exported before calling the build good.
for sym in zmq_msg_routing_id zmq_msg_set_routing_id zmq_join zmq_msg_set_group; do
    nm -D --defined-only "$prefix/lib/libzmq.so" | grep -qw "$sym" || {
        echo "the built libzmq does not export $sym" >&2
        exit 1
    }
done
touch "$prefix/.ringmq-drafts-ok"
echo "==> draft-enabled libzmq in $prefix"
