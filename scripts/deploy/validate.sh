#!/usr/bin/env bash
# Renders every overlay of deploy/kubernetes and checks the result offline: against the
# Kubernetes API schemas, strictly (kubernetes-validate from PyPI, which carries them),
# and against Tessera's own rules for its manifests (scripts/deploy/check_manifests.py).
# Each overlay is rendered twice: by the machine's kubectl and by Debian's (kubectl
# 1.20, kustomize 2, fetched once into the cache folder), so the manifests work with
# both. Only the Prometheus operator's ServiceMonitor has no schema there.
# `validate.sh [deploy folder]` checks another copy (the tests use that to prove a
# broken manifest fails).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
deploy="${1:-$root/deploy}"
cache_root="${TESSERA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"

# Debian's kubectl, unpacked from its package (no installation, no root needed).
debian_kubectl="$cache_root/kubernetes-client/usr/bin/kubectl"
if [ ! -x "$debian_kubectl" ]; then
    mkdir -p "$cache_root"
    (
        exec 9>"$cache_root/.kubectl.lock"
        flock 9
        if [ ! -x "$debian_kubectl" ]; then
            work=$(mktemp -d)
            cd "$work"
            if ! apt-get download kubernetes-client >/dev/null 2>&1; then
                apt-get update -qq >&2
                apt-get download kubernetes-client >&2
            fi
            dpkg -x kubernetes-client_*.deb "$cache_root/kubernetes-client"
            rm -rf "$work"
        fi
    )
fi
renderers=("$debian_kubectl")
if command -v kubectl >/dev/null 2>&1 && [ "$(readlink -f "$(command -v kubectl)")" != "$(readlink -f "$debian_kubectl")" ]; then
    renderers=("$(command -v kubectl)" "$debian_kubectl")
fi
bin=$(bash "$root/scripts/ecosystem/python.sh")
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT

status=0
for overlay in "$deploy"/kubernetes/overlays/*/; do
    name=$(basename "$overlay")
    counts=()
    failed=0
    for index in "${!renderers[@]}"; do
        kubectl="${renderers[$index]}"
        version=$("$kubectl" version --client 2>/dev/null | grep -Eo 'v[0-9]+\.[0-9]+' | head -n1)
        out="$rendered/$name-$index.yaml"
        # Newer kustomize warns that `bases` and `patchesJson6902` are deprecated.
        if ! "$kubectl" kustomize "$overlay" > "$out" 2> "$rendered/$name-$index.kustomize"; then
            cat "$rendered/$name-$index.kustomize" >&2
            echo "$name: kustomize ($version) failed" >&2
            failed=1
            continue
        fi
        counts+=("$(grep -c '^kind: ' "$out") with kubectl $version")
        if ! "$bin/kubernetes-validate" --strict --quiet "$out" 2> "$rendered/$name.err" >&2; then
            cat "$rendered/$name.err" >&2
            echo "$name ($version): the Kubernetes schemas refuse it" >&2
            failed=1
        elif grep -v "Couldn't find schema for kind ServiceMonitor" "$rendered/$name.err" | grep -q .; then
            cat "$rendered/$name.err" >&2
            echo "$name ($version): a resource could not be checked" >&2
            failed=1
        fi
        if ! "$bin/python" "$root/scripts/deploy/check_manifests.py" < "$out"; then
            echo "$name ($version): Tessera's rules for its manifests refuse it" >&2
            failed=1
        fi
    done
    if [ "$failed" = 0 ]; then
        first=${counts[0]%% *}
        echo "$name: $first resources rendered and valid ($(IFS=';'; echo "${counts[*]}" | sed 's/;/, /g'))"
    else
        status=1
    fi
done
exit "$status"
