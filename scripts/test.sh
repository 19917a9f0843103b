#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the interop tests need
# (a Python venv with pyzmq from PyPI, and the system's libzmq with its headers for
# the C peer tests/peers/libzmq_peer.c, and a draft-enabled libzmq built from Debian's
# source for tests/peers/draft_peer.c), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pkg-config --exists libzmq 2>/dev/null && [ ! -e /usr/include/zmq.h ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing libzmq3-dev (the system libzmq peer of the interop tests)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzmq3-dev pkg-config
    else
        echo "==> libzmq's headers are missing: the interop tests will FAIL;" \
            "install them with: sudo apt-get install libzmq3-dev" >&2
    fi
fi

# `ss` (iproute2) reads BACKLOG and the kernel buffers back in tests/connection_options.rs.
if ! command -v ss >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing iproute2 (ss, for the kernel socket option tests)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2
    else
        echo "==> ss is missing: the kernel socket option tests will FAIL;" \
            "install it with: sudo apt-get install iproute2" >&2
    fi
fi

venv=.venv
if ! "$venv/bin/python" -c 'import zmq' >/dev/null 2>&1; then
    echo "==> creating $venv with pyzmq (libzmq 4.3.5 with CURVE) for the interop tests"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyzmq>=26,<28'
fi
export RINGMQ_PYTHON="$PWD/$venv/bin/python"
"$RINGMQ_PYTHON" -c 'import zmq; assert zmq.has("curve"); print("==> pyzmq", zmq.__version__, "libzmq", zmq.zmq_version())'

# The draft-enabled libzmq of the draft socket types' interop tests (built once into
# .venv-drafts/ from Debian's zeromq3 source; a rerun skips it).
if ! ./scripts/draft-libzmq.sh .venv-drafts; then
    echo "==> no draft-enabled libzmq: the draft interop tests will FAIL" >&2
fi
export RINGMQ_DRAFT_LIBZMQ="$PWD/.venv-drafts"

echo "==> cargo test --workspace"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
