#!/usr/bin/env bash
# Build actionlint v1.7.12 (pinned) from the Go module proxy into ~/.cache/milvus-lab/actionlint/v1.7.12/.
# Usage: tools/actionlint/build.sh [--print-path] [--force]; a second run does nothing.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/go-tool/install.sh"
go_tool_install actionlint github.com/rhysd/actionlint/cmd/actionlint v1.7.12 24 "$@"
