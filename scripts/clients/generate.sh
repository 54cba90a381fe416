#!/usr/bin/env bash
# Generates the example TypeScript client (clients/typescript) from a schema, the way a
# partner would, and compiles it: GraphQL Code Generator validates every operation
# against the schema (a removed or renamed field fails here), writes the typed
# documents and the persisted-documents manifest, and `tsc` type-checks and builds the
# client. Works on a copy, so the repository is left as it is.
#
#   generate.sh [schema.graphql] [work folder]
#
# Prints the work folder; its src/gql/persisted-documents.json is ready for
# `tessera persisted import`, and `node <folder>/dist/example.js <url>` runs the client.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
schema=$(realpath "${1:-$root/schema.graphql}")
work="${2:-$(mktemp -d)}"
modules=$(bash "$root/scripts/ecosystem/setup.sh" --package clients/typescript)

mkdir -p "$work"
rm -rf "$work/src" "$work/dist"
cp -r "$root/clients/typescript/src" "$root/clients/typescript/codegen.yml" \
    "$root/clients/typescript/tsconfig.json" "$root/clients/typescript/package.json" "$work/"
rm -rf "$work/src/gql"
ln -sfn "$modules" "$work/node_modules"
cd "$work"
TESSERA_SCHEMA="$schema" "$modules/.bin/graphql-codegen" --config codegen.yml >&2
"$modules/.bin/tsc" >&2
echo "$work"
