#!/usr/bin/env bash
# CI set-up shared by the emitted GitHub Actions and GitLab CI jobs: print the python to use.
# MILVUS_LAB_CI_PYTHON set (the local runners act / gitlab-ci-local pass a ready venv): use it.
# Otherwise (a fresh CI machine): a venv with the package and the pipeline's tools.
set -euo pipefail
if [ -n "${MILVUS_LAB_CI_PYTHON:-}" ]; then
    echo "$MILVUS_LAB_CI_PYTHON"
    exit 0
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv >&2
fi
.venv/bin/python -m pip install --quiet --upgrade pip >&2
.venv/bin/python -m pip install --quiet -e ".[pipeline]" >&2
bash tools/osv-scanner/build.sh >&2
echo "$PWD/.venv/bin/python"
