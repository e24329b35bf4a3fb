#!/usr/bin/env bash
# Build compose-validate (the compose-spec loader + schema, as inside `docker compose`)
# into a cache outside the repo, so docker-compose.yml is validated without Docker.
#
# Cached on the sha256 of go.mod + go.sum + *.go: a second run does nothing.
#
# Usage: tools/compose-validate/build.sh [--print-path] [--force]
#   --print-path   print the binary's path and exit (nothing is built)
#   --force        rebuild even when the cached binary is up to date
# Env:   MILVUS_LAB_COMPOSE_VALIDATE_CACHE  cache dir (default ~/.cache/milvus-lab/compose-validate)
#        GOFLAGS                             default -p=2 (the machine has 2 shared cores)
# Then:  "$(tools/compose-validate/build.sh --print-path)" docker-compose.yml
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${MILVUS_LAB_COMPOSE_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab/compose-validate}"
BIN="$OUT/compose-validate"

force=0
for arg in "$@"; do
    case "$arg" in
        --print-path) echo "$BIN"; exit 0 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' is not on PATH; install Go >= 1.24 (https://go.dev/dl/), then run $0" >&2
    exit 2
fi
gominor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${gominor:-0}" -lt 24 ]; then
    echo "build.sh: $(go env GOVERSION) is too old; compose-go v2 needs Go >= 1.24" >&2
    exit 2
fi

stamp="$(cd "$HERE" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
if [ "$force" = 0 ] && [ -x "$BIN" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "build.sh: compose-validate cached ($BIN)"
    exit 0
fi

export CGO_ENABLED=0
goflags="${GOFLAGS:-}"
case " $goflags " in *" -p="*) ;; *) goflags="$goflags -p=2" ;; esac
# -mod=readonly: go.sum is committed and must already cover every module.
export GOFLAGS="$goflags -mod=readonly -trimpath"
# Never fetch a newer toolchain: only the module proxy is reachable.
export GOTOOLCHAIN=local

mkdir -p "$OUT"
start=$SECONDS
echo "build.sh: building compose-validate ..."
(cd "$HERE" && go build -ldflags "-s -w" -o "$OUT/.compose-validate.tmp" .)
mv -f "$OUT/.compose-validate.tmp" "$BIN"
echo "$stamp" >"$OUT/.stamp"
echo "build.sh: built $BIN in $((SECONDS - start))s"
