#!/usr/bin/env bash
# Refresh the GraphiQL browser assets that the API crate embeds, so that the
# /graphiql page works without any CDN or internet access.
#
# Versions come from crates/api/assets/graphiql/VERSIONS (lines of
# "<npm package> <exact version>"). Each one can be overridden from the
# environment, e.g.:
#
#   GRAPHIQL_VERSION=3.9.0 REACT_VERSION=18.3.1 REACT_DOM_VERSION=18.3.1 \
#     scripts/vendor-graphiql.sh
#
# The VERSIONS file is rewritten with whatever was actually vendored.
# Only the npm client is needed; npm verifies each tarball's integrity
# against the registry metadata while packing. index.html and init.js are
# maintained by hand and are not touched by this script.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${repo_root}/crates/api/assets/graphiql"
versions_file="${dest}/VERSIONS"

# Fallback pins, used only if VERSIONS is missing an entry.
default_graphiql="3.9.0"
default_react="18.3.1"
default_react_dom="18.3.1"

version_from_file() {
    local name="$1"
    if [[ -f "${versions_file}" ]]; then
        awk -v n="${name}" '$1 == n { print $2; exit }' "${versions_file}"
    fi
}

graphiql_version="${GRAPHIQL_VERSION:-$(version_from_file graphiql)}"
react_version="${REACT_VERSION:-$(version_from_file react)}"
react_dom_version="${REACT_DOM_VERSION:-$(version_from_file react-dom)}"
graphiql_version="${graphiql_version:-${default_graphiql}}"
react_version="${react_version:-${default_react}}"
react_dom_version="${react_dom_version:-${default_react_dom}}"

# Only exact versions: ranges would make the result depend on the day it runs.
for v in "${graphiql_version}" "${react_version}" "${react_dom_version}"; do
    if ! [[ "${v}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        echo "error: '${v}' is not an exact version (expected X.Y.Z)" >&2
        exit 1
    fi
done

command -v npm >/dev/null || { echo "error: npm is required" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# fetch <package> <version>: unpacks the published tarball into $work/<package>
fetch() {
    local name="$1" version="$2" tarball
    echo "fetching ${name}@${version}"
    tarball="$(cd "${work}" && npm pack --silent "${name}@${version}" | tail -n 1)"
    mkdir -p "${work}/${name}"
    tar -xzf "${work}/${tarball}" -C "${work}/${name}"
    local got
    got="$(node -p "require('${work}/${name}/package/package.json').version" 2>/dev/null \
        || sed -n 's/^  "version": "\(.*\)",$/\1/p' "${work}/${name}/package/package.json")"
    if [[ "${got}" != "${version}" ]]; then
        echo "error: ${name} tarball reports version '${got}', expected '${version}'" >&2
        exit 1
    fi
}

fetch graphiql "${graphiql_version}"
fetch react "${react_version}"
fetch react-dom "${react_dom_version}"

# copy <source> <target name>; refuses empty or missing files
copy() {
    local src="${work}/$1" target="${dest}/$2"
    if [[ ! -s "${src}" ]]; then
        echo "error: expected file $1 is missing or empty" >&2
        exit 1
    fi
    cp "${src}" "${target}"
    chmod 0644 "${target}"
}

mkdir -p "${dest}"
copy graphiql/package/graphiql.min.js              graphiql.min.js
copy graphiql/package/graphiql.min.css             graphiql.min.css
copy react/package/umd/react.production.min.js     react.production.min.js
copy react-dom/package/umd/react-dom.production.min.js react-dom.production.min.js
copy graphiql/package/LICENSE                      LICENSE-graphiql
copy react/package/LICENSE                         LICENSE-react
copy react-dom/package/LICENSE                     LICENSE-react-dom

# Sanity checks: the UMD bundles must register the globals init.js relies on.
grep -q '\.GraphiQL=' "${dest}/graphiql.min.js" \
    || { echo "error: graphiql.min.js does not define the GraphiQL global" >&2; exit 1; }
grep -q 'createRoot' "${dest}/react-dom.production.min.js" \
    || { echo "error: react-dom.production.min.js has no createRoot" >&2; exit 1; }

cat > "${versions_file}" <<VERSIONS
graphiql ${graphiql_version}
react ${react_version}
react-dom ${react_dom_version}
VERSIONS

echo "vendored into ${dest}:"
(cd "${dest}" && sha256sum graphiql.min.js graphiql.min.css \
    react.production.min.js react-dom.production.min.js)
cat "${versions_file}"
