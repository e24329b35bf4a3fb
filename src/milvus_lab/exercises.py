"""Generate `labs/` (the exercises) from `solutions/` (DESIGN.md section 5).

Each `# BEGIN SOLUTION` ... `# END SOLUTION` block becomes a TODO and a
`raise NotImplementedError`, indented like the block, so `diff labs/x solutions/x`
shows exactly the exercise. `python -m milvus_lab.exercises --check` fails when
`labs/` is stale, which a test runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from milvus_lab.settings import find_repo_root

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<hint>.*))?$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
GENERATED_NOTE = "# Exercise generated from solutions/{name} by `python -m milvus_lab.exercises`.\n"


def to_exercise(source: str, name: str) -> str:
    """The exercise text for one solution file."""
    out: list[str] = [GENERATED_NOTE.format(name=name)]
    inside = False
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        begin = BEGIN.match(line.rstrip("\n"))
        if begin:
            if inside:
                raise ValueError(f"{name}:{lineno}: nested BEGIN SOLUTION")
            inside = True
            indent = begin.group("indent")
            hint = begin.group("hint") or "implement this step"
            out.append(f"{indent}# TODO: {hint}\n")
            out.append(f"{indent}raise NotImplementedError({hint!r})\n")
            continue
        if END.match(line.rstrip("\n")):
            if not inside:
                raise ValueError(f"{name}:{lineno}: END SOLUTION without BEGIN")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{name}: BEGIN SOLUTION without END")
    return "".join(out)


def generate(root: Path, check: bool = False) -> list[str]:
    """Write (or with check=True, compare) every labs/ file; return the stale ones."""
    stale: list[str] = []
    for solution in sorted((root / "solutions").glob("lab*.py")):
        target = root / "labs" / solution.name
        text = to_exercise(solution.read_text(), solution.name)
        if not target.exists() or target.read_text() != text:
            stale.append(solution.name)
            if not check:
                target.parent.mkdir(exist_ok=True)
                target.write_text(text)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when labs/ is out of date")
    args = parser.parse_args(argv)
    stale = generate(find_repo_root(), check=args.check)
    if args.check and stale:
        print("labs/ is stale for: " + ", ".join(stale)
              + "\n  fix: python -m milvus_lab.exercises", file=sys.stderr)
        return 1
    print(("regenerated: " + ", ".join(stale)) if stale else "labs/ is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
