# shellcheck shell=bash
# Sourced by tools/*/ci.sh: sets PYTHON, the interpreter that has milvus-lab installed
# ($PYTHON if set, else the active virtualenv's, else python3), so each CI entry runs the
# project's Python modules with the same interpreter as the tests.
if [ -z "${PYTHON:-}" ]; then
    if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
        PYTHON="$VIRTUAL_ENV/bin/python"
    else
        PYTHON="python3"
    fi
fi
