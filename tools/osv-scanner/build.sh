#!/usr/bin/env bash
# Build osv-scanner v2.2.4 (pinned) from the Go module proxy into ~/.cache/milvus-lab/osv-scanner/v2.2.4/.
# Usage: tools/osv-scanner/build.sh [--print-path] [--force]; a second run does nothing.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/go-tool/install.sh"
go_tool_install osv-scanner github.com/google/osv-scanner/v2/cmd/osv-scanner v2.2.4 24 "$@"
