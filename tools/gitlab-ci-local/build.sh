#!/usr/bin/env bash
# Install gitlab-ci-local 4.70.0 (npm, pinned by package-lock.json) into a cache outside the
# repo: ~/.cache/milvus-lab/gitlab-ci-local/<lock sha>/node_modules/.bin/gitlab-ci-local.
# 4.75.x crashes on Node 20 (Set.prototype.union); 4.70.0 runs. Building needs node and npm only;
# running it needs rsync (Debian), which milvus_lab.pipeline.ci_local checks before a run.
#
# Usage: tools/gitlab-ci-local/build.sh [--print-path] [--force]; a second run does nothing.
# Env:   MILVUS_LAB_TOOLS_CACHE  cache root (default ~/.cache/milvus-lab)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${MILVUS_LAB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab}"
stamp="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -c1-16)"
OUT="$root/gitlab-ci-local/4.70.0-$stamp"
BIN="$OUT/node_modules/.bin/gitlab-ci-local"

force=0
for arg in "$@"; do
    case "$arg" in
        --print-path) echo "$BIN"; exit 0 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
if [ "$force" = 0 ] && [ -x "$BIN" ]; then
    echo "build.sh: gitlab-ci-local cached ($BIN)"
    exit 0
fi
for need in node npm; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "build.sh: '$need' is not on PATH; install it (Debian: apt-get install nodejs npm)" >&2
        exit 2
    fi
done
nodemajor="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$nodemajor" -lt 18 ]; then
    echo "build.sh: node $(node --version) is too old; gitlab-ci-local 4.70.0 needs Node >= 18" >&2
    exit 2
fi
start=$SECONDS
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
cp "$HERE/package.json" "$HERE/package-lock.json" "$OUT.tmp/"
(cd "$OUT.tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "build.sh: installed $BIN ($("$BIN" --version)) in $((SECONDS - start))s"
