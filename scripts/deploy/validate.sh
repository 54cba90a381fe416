#!/usr/bin/env bash
# Renders every overlay of deploy/kubernetes (kubectl's built-in kustomize) and checks
# the result offline: against the Kubernetes API schemas, strictly (kubernetes-validate
# from PyPI, which carries them), and against Tessera's own rules for its manifests
# (scripts/deploy/check_manifests.py). Only the Prometheus operator's ServiceMonitor
# has no schema there. `validate.sh [deploy folder]` checks another copy (the tests
# use that to prove a broken manifest fails).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
deploy="${1:-$root/deploy}"

if ! command -v kubectl >/dev/null 2>&1; then
    echo "installing kubectl (Debian's kubernetes-client)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >&2
fi
bin=$(bash "$root/scripts/ecosystem/python.sh")
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT

status=0
for overlay in "$deploy"/kubernetes/overlays/*/; do
    name=$(basename "$overlay")
    out="$rendered/$name.yaml"
    if ! kubectl kustomize "$overlay" > "$out"; then
        echo "$name: kustomize failed" >&2
        status=1
        continue
    fi
    count=$(grep -c '^kind: ' "$out")
    if ! "$bin/kubernetes-validate" --strict --quiet "$out" 2> "$rendered/$name.err" >&2; then
        cat "$rendered/$name.err" >&2
        echo "$name: the Kubernetes schemas refuse it" >&2
        status=1
    elif grep -v "Couldn't find schema for kind ServiceMonitor" "$rendered/$name.err" | grep -q .; then
        cat "$rendered/$name.err" >&2
        echo "$name: a resource could not be checked" >&2
        status=1
    fi
    if ! "$bin/python" "$root/scripts/deploy/check_manifests.py" < "$out"; then
        echo "$name: Tessera's rules for its manifests refuse it" >&2
        status=1
    fi
    [ "$status" = 0 ] && echo "$name: $count resources rendered and valid"
done
exit "$status"
