#!/usr/bin/env bash
# Build act v0.2.89 (pinned) from the Go module proxy into ~/.cache/milvus-lab/act/v0.2.89/.
# Usage: tools/act/build.sh [--print-path] [--force]; a second run does nothing.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/go-tool/install.sh"
go_tool_install act github.com/nektos/act v0.2.89 24 "$@"
