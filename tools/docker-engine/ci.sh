#!/usr/bin/env bash
# CI entry for the Docker tests: install (when missing) and start a private Docker Engine,
# build the images without a registry, install the compose v2 plugin, print what to export.
# `down` stops the engine and everything it runs (nothing is left behind).
#
# Usage: tools/docker-engine/ci.sh [up|down|status]     (default: up)
# Env:   PYTHON                  interpreter with milvus-lab[docker] (default: $VIRTUAL_ENV/bin/python, else python3)
#        MILVUS_LAB_DOCKER_ROOT  engine dir: data root, socket, pid file, log, CLI config
#                                (default ~/.cache/milvus-lab/docker; outside the repo)
# The engine: Debian docker.io (dockerd 20.10) with its own --data-root/--exec-root/socket/
# pidfile, --iptables=false --bridge=none (containers use host networking, every port is
# on 127.0.0.1). It never touches /var/run/docker.sock or a Docker the user runs.
#
# Then (what .ci/run does):
#   eval "$(tools/docker-engine/ci.sh up)"     # exports DOCKER_HOST, DOCKER_CONFIG
#   MILVUS_LAB_REQUIRE_DOCKER=1 pytest -m docker
#   tools/docker-engine/ci.sh down
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tools/lib/python.sh
. "$HERE/../lib/python.sh"
DROOT="${MILVUS_LAB_DOCKER_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-lab/docker}"
export MILVUS_LAB_DOCKER_ROOT="$DROOT"
action="${1:-up}"
say() { echo "ci.sh: $*" >&2; }

case "$action" in
    down) exec "$PYTHON" -m milvus_lab.dockerenv down ;;
    status) exec "$PYTHON" -m milvus_lab.dockerenv status ;;
    up) ;;
    *) say "unknown action '$action' (up|down|status)"; exit 2 ;;
esac

# 1. Python side: the docker SDK and testcontainers (the `docker` extra).
if ! "$PYTHON" -c "import docker, testcontainers, milvus_lab.dockerenv" 2>/dev/null; then
    say "installing milvus-lab[docker] into $PYTHON"
    "$PYTHON" -m pip install --quiet -e "${ROOT}[docker]"
fi

# 2. The engine (installs docker.io, runc, mmdebstrap with apt-get when missing).
t=$SECONDS
"$PYTHON" -m milvus_lab.dockerenv up --timeout 120 >/dev/null
host="unix://$DROOT/run/docker.sock"
say "engine up in $((SECONDS - t))s (DOCKER_HOST=$host)"

# 3. Images: Debian base (mmdebstrap, cached by content), search API, Milvus 2.3.5 (PyPI).
t=$SECONDS
DOCKER_HOST="$host" "$PYTHON" -m milvus_lab.dockerenv images >&2
say "images in $((SECONDS - t))s"

# 4. docker compose v2, built from its Go module (cached), as a CLI plugin in our own
#    DOCKER_CONFIG (the user's ~/.docker is left alone).
t=$SECONDS
export DOCKER_CONFIG="$DROOT/config"
if command -v go >/dev/null 2>&1; then
    nice -n 19 bash "$ROOT/tools/compose-plugin/build.sh" >&2  # a compile: it yields the CPUs to tests
    say "compose plugin in $((SECONDS - t))s"
else
    say "Go is not on PATH: the compose plugin cannot be built (the compose test will fail under MILVUS_LAB_REQUIRE_DOCKER=1)"
fi

echo "export DOCKER_HOST=$host"
echo "export DOCKER_CONFIG=$DOCKER_CONFIG"
