#!/usr/bin/env bash
# Shared by tools/<tool>/build.sh: `go install MODULE/CMD@VERSION` into a cache outside the
# repo (~/.cache/milvus-lab/<tool>/<version>/<tool>), so CI builds each pinned tool once.
#
# Usage (from a build.sh): go_tool_install NAME PACKAGE VERSION MIN_GO_MINOR "$@"
#   "$@" of build.sh: [--print-path] [--force]
# Env:   MILVUS_LAB_TOOLS_CACHE  cache root (default ~/.cache/milvus-lab)
#        GOFLAGS                 default -p=2 (the machine has 2 shared cores)
set -euo pipefail

go_tool_install() {
    local name="$1" package="$2" version="$3" min_minor="$4"
    shift 4
    local root="${MILVUS_LAB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab}"
    local out="$root/$name/$version"
    local bin="$out/$name"
    local force=0 arg
    for arg in "$@"; do
        case "$arg" in
            --print-path) echo "$bin"; return 0 ;;
            --force) force=1 ;;
            -h|--help) echo "usage: $0 [--print-path] [--force]"; return 0 ;;
            *) echo "build.sh: unknown argument: $arg" >&2; return 2 ;;
        esac
    done
    if [ "$force" = 0 ] && [ -x "$bin" ]; then
        echo "build.sh: $name $version cached ($bin)"
        return 0
    fi
    if ! command -v go >/dev/null 2>&1; then
        echo "build.sh: 'go' is not on PATH; install Go >= 1.$min_minor (https://go.dev/dl/), then run $0" >&2
        return 2
    fi
    local gominor
    gominor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
    if [ "${gominor:-0}" -lt "$min_minor" ]; then
        echo "build.sh: $(go env GOVERSION) is too old; $name $version needs Go >= 1.$min_minor" >&2
        return 2
    fi
    local goflags="${GOFLAGS:-}"
    case " $goflags " in *" -p="*) ;; *) goflags="$goflags -p=2" ;; esac
    mkdir -p "$out"
    local start=$SECONDS
    echo "build.sh: building $name $version ..."
    # GOBIN into a temp dir, then an atomic move: a half-built binary is never "cached".
    rm -rf "$out/.gobin"
    GOFLAGS="$goflags -trimpath" GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$out/.gobin" \
        nice go install -ldflags "-s -w" "$package@$version"
    mv -f "$out/.gobin/$(basename "${package%/v[0-9]*}")" "$bin" 2>/dev/null \
        || mv -f "$out/.gobin/"* "$bin"
    rm -rf "$out/.gobin"
    echo "build.sh: built $bin in $((SECONDS - start))s"
}
