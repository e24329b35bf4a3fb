#!/usr/bin/env bash
# Build Sloth (the SLO -> Prometheus rules generator) from its Go module into a cache
# outside the repo. Sloth refuses `go install` through the module proxy (its @v/list
# lookup is refused), but its module downloads and builds from the module cache.
#
# Cached per version: a second run does nothing.
#
# Usage: tools/sloth/build.sh [--print-path] [--force]
#   --print-path   print the binary's path and exit (nothing is built)
#   --force        rebuild even when the cached binary exists
# Env:   MILVUS_LAB_SLOTH_CACHE  cache dir (default ~/.cache/milvus-lab/sloth)
#        GOFLAGS                 default -p=2 (the machine has 2 shared cores)
# Then:  "$(tools/sloth/build.sh --print-path)" generate -i deploy/slo/search-api.yaml
set -euo pipefail

SLOTH_VERSION=v0.12.0
ROOT="${MILVUS_LAB_SLOTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab/sloth}"
OUT="$ROOT/$SLOTH_VERSION"
BIN="$OUT/sloth"

force=0
for arg in "$@"; do
    case "$arg" in
        --print-path) echo "$BIN"; exit 0 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ "$force" = 0 ] && [ -x "$BIN" ]; then
    echo "build.sh: sloth $SLOTH_VERSION cached ($BIN)"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' is not on PATH; install Go >= 1.22 (https://go.dev/dl/), then run $0" >&2
    exit 2
fi

export CGO_ENABLED=0
goflags="${GOFLAGS:-}"
case " $goflags " in *" -p="*) ;; *) goflags="$goflags -p=2" ;; esac
# Never fetch a newer toolchain: only the module proxy is reachable.
export GOTOOLCHAIN=local

mkdir -p "$OUT"
start=$SECONDS
echo "build.sh: downloading github.com/slok/sloth@$SLOTH_VERSION ..."
(cd "$OUT" && GOFLAGS="" go mod download github.com/slok/sloth@"$SLOTH_VERSION")
SRC="$(go env GOMODCACHE)/github.com/slok/sloth@$SLOTH_VERSION"
echo "build.sh: building sloth $SLOTH_VERSION (nice'd; several minutes on 2 cores) ..."
# -mod=mod: the module's own go.sum lacks some build-only entries; resolve them from the proxy.
(cd "$SRC" && GOFLAGS="$goflags -mod=mod -trimpath" nice -n 10 \
    go build -ldflags "-s -w -X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" -o "$OUT/.sloth.tmp" ./cmd/sloth)
mv -f "$OUT/.sloth.tmp" "$BIN"
echo "build.sh: built $BIN in $((SECONDS - start))s"
