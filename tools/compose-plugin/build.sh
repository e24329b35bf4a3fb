#!/usr/bin/env bash
# Build the Docker Compose v2 CLI plugin (`docker compose`) from its Go module, because
# Debian bookworm packages only Compose v1 and no image/binary download is reachable here.
# The binary is cached outside the repo, keyed on the pinned version, and installed as a
# CLI plugin under $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins).
#
# Usage: tools/compose-plugin/build.sh [--print-path] [--force] [--no-install]
#   --print-path   print the cached binary's path and exit (nothing is built)
#   --force        rebuild even when the cached binary is there
#   --no-install   build/cache only; do not link it into $DOCKER_CONFIG/cli-plugins
# Env:   MILVUS_LAB_COMPOSE_PLUGIN_CACHE  cache dir (default ~/.cache/milvus-lab/compose-plugin)
#        DOCKER_CONFIG                    where the docker CLI looks for cli-plugins/
# Measured on 2 shared cores: cold build ~10-15 min (module download + compile), cached 0 s.
set -euo pipefail

VERSION="v2.40.3"
MODULE="github.com/docker/compose/v2"
CACHE="${MILVUS_LAB_COMPOSE_PLUGIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab/compose-plugin}"
OUT="$CACHE/$VERSION"
BIN="$OUT/docker-compose"

force=0; install=1
for arg in "$@"; do
    case "$arg" in
        --print-path) echo "$BIN"; exit 0 ;;
        --force) force=1 ;;
        --no-install) install=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

link_plugin() {
    [ "$install" = 1 ] || return 0
    local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    mkdir -p "$dir"
    ln -sfn "$BIN" "$dir/docker-compose"
    echo "build.sh: docker compose plugin: $dir/docker-compose -> $BIN"
}

if [ "$force" = 0 ] && [ -x "$BIN" ]; then
    echo "build.sh: docker compose $VERSION cached ($BIN)"
    link_plugin
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' is not on PATH; install Go >= 1.24 (https://go.dev/dl/), then run $0" >&2
    exit 2
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local
goflags="${GOFLAGS:-}"
case " $goflags " in *" -p="*) ;; *) goflags="$goflags -p=2" ;; esac
export GOFLAGS="$goflags -trimpath"

start=$SECONDS
echo "build.sh: downloading $MODULE@$VERSION ..."
src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || { echo "build.sh: module download failed ($MODULE@$VERSION)" >&2; exit 1; }
# The module cache is read-only; build from a writable copy (go may update go.sum).
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
mkdir -p "$OUT"
echo "build.sh: building docker-compose $VERSION (nice, -p=2) ..."
(cd "$work" && nice -n 10 go build -mod=mod \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
    -o "$OUT/.docker-compose.tmp" ./cmd)
mv -f "$OUT/.docker-compose.tmp" "$BIN"
echo "build.sh: built $BIN in $((SECONDS - start))s"
link_plugin
