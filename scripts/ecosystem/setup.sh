#!/usr/bin/env bash
# Installs the npm packages of a folder (default tests/ecosystem, the tools the
# ecosystem tests run; `--package clients/typescript` for the example client's code
# generator), once, into a cache folder named after its lock file (TESSERA_TOOLS_CACHE,
# else ~/.cache/tessera), and with `browser` Chromium from Debian's package when the
# machine has none. Prints the node_modules folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
package=tests/ecosystem
browser=0
while [ $# -gt 0 ]; do
    case "$1" in
        browser) browser=1 ;;
        --package) package="$2"; shift ;;
        *) echo "usage: setup.sh [browser] [--package <folder>]" >&2; exit 2 ;;
    esac
    shift
done
lock="$root/$package/package-lock.json"
cache_root="${TESSERA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
cache="$cache_root/node-$(sha256sum "$lock" | cut -c1-16)"
mkdir -p "$cache_root"

exec 9>"$cache_root/.setup.lock"
flock 9

if [ ! -f "$cache/.installed" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is needed (Node.js 18 or later)" >&2; exit 1; }
    rm -rf "$cache" && mkdir -p "$cache"
    cp "$root/$package/package.json" "$lock" "$cache/"
    (cd "$cache" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >&2
    touch "$cache/.installed"
fi

if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    echo "installing Chromium (Debian's package)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

echo "$cache/node_modules"
