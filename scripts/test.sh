#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the interop tests need
# (a Python venv with pyzmq from PyPI), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if ! "$venv/bin/python" -c 'import zmq' >/dev/null 2>&1; then
    echo "==> creating $venv with pyzmq (libzmq 4.3.5 with CURVE) for the interop tests"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyzmq>=26,<28'
fi
export RINGMQ_PYTHON="$PWD/$venv/bin/python"
"$RINGMQ_PYTHON" -c 'import zmq; assert zmq.has("curve"); print("==> pyzmq", zmq.__version__, "libzmq", zmq.zmq_version())'

echo "==> cargo test --workspace"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
