#!/usr/bin/env bash
# Installs the Python tools pinned in tests/ecosystem/requirements.txt, once, into a
# virtual environment in the cache folder named after that file (TESSERA_TOOLS_CACHE,
# else ~/.cache/tessera). Prints the environment's bin folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
requirements="$root/tests/ecosystem/requirements.txt"
cache_root="${TESSERA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
venv="$cache_root/python-$(sha256sum "$requirements" | cut -c1-16)"
mkdir -p "$cache_root"

exec 9>"$cache_root/.python.lock"
flock 9

if [ ! -f "$venv/.installed" ]; then
    command -v python3 >/dev/null 2>&1 || { echo "python3 is needed (3.9 or later)" >&2; exit 1; }
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    touch "$venv/.installed"
fi

echo "$venv/bin"
