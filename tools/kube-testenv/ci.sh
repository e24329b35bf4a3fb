#!/usr/bin/env bash
# CI entry for the kube tests: make sure the tools are there, build the control
# plane (cached in ~/.cache/milvus-lab/kube-testenv/<version>/), start it, print
# where the kubeconfig is. Idempotent: a second run reuses the build and the
# running testenv. Exports and prints nothing secret (the kubeconfig holds the
# admin key; only its path is printed).
#
# Usage: tools/kube-testenv/ci.sh [up|down]      (default: up)
# Env:   PYTHON   interpreter with milvus-lab installed (default: $VIRTUAL_ENV/bin/python, else python3)
#
# Then run the tests with:
#   MILVUS_LAB_KUBE=testenv MILVUS_LAB_REQUIRE_KUBE=1 $PYTHON -m pytest -m kube
# and stop with: tools/kube-testenv/ci.sh down
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tools/lib/python.sh
. "$HERE/../lib/python.sh"
action="${1:-up}"

if [ "$action" = "down" ]; then
    exec "$PYTHON" -m milvus_lab.testing.kube_testenv down
fi
if [ "$action" != "up" ]; then
    echo "ci.sh: unknown action '$action' (up|down)" >&2
    exit 2
fi

# 1. Python side: the package with the kube extra (kubernetes, cryptography).
if ! "$PYTHON" -c "import milvus_lab.testing.kube_testenv, kubernetes, cryptography, yaml" 2>/dev/null; then
    echo "ci.sh: installing milvus-lab into $PYTHON"
    "$PYTHON" -m pip install --quiet -e "$ROOT"
fi

# 2. Go toolchain (k8s 1.33 needs >= 1.24). Debian bookworm's golang-go is too old,
#    so there is nothing sensible to install here: fail with the reason.
if ! command -v go >/dev/null 2>&1; then
    echo "ci.sh: Go is not on PATH; the kube-testenv is built from Go modules (Go >= 1.24)" >&2
    exit 2
fi

# 3. Build (each binary is cached, keyed on its go.mod+go.sum) and start.
start=$SECONDS
bash "$HERE/build.sh"
echo "ci.sh: build step took $((SECONDS - start))s"
"$PYTHON" -m milvus_lab.testing.kube_testenv up --timeout 300
kubeconfig="$("$PYTHON" -m milvus_lab.testing.kube_testenv kubeconfig)"

echo "ci.sh: kube-testenv is up"
echo "ci.sh: KUBECONFIG for it: $kubeconfig (context milvus-lab-testenv)"
echo "ci.sh: run the tests with MILVUS_LAB_KUBE=testenv MILVUS_LAB_REQUIRE_KUBE=1"
