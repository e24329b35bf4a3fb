"""Lab 02 exercise: the two rules a release pipeline lives by.

1. `release_tags`: the tag scheme. One artifact gets several human names (the version, the
   git sha, the branch), and every name points at the same digest.
2. `deploy_plan`: which environments a ref may reach (pull requests: none; develop: dev and
   staging; main: dev, staging and prod).
3. `can_promote`: the promotion rule. A digest may enter an environment only when that same
   digest passed the environment before it (and prod needs an approval).

The pipeline calls these in its tag and promote stages (`--impl labs` runs yours);
`pytest checks/test_lab02_cicd.py` tests them, some against a real registry and replicas.
"""

from __future__ import annotations

import re

from milvus_lab.verification import Verification

ORDER = ("dev", "staging", "prod")
HEX = re.compile(r"[0-9a-f]+")  # a git commit id, lowercased
NOT_TAG_SAFE = re.compile(r"[^a-z0-9._-]+")  # a run of characters a tag may not hold


def release_tags(version: str, git_sha: str, branch: str) -> list[str]:
    """Three tags for one build, in this order:

    - the version as is: "0.1.0"
    - "sha-" + the first 12 characters of the lowercased git sha: "sha-0123456789ab"
    - "branch-" + the branch with "refs/heads/" removed, lowercased, every run of characters
      outside [a-z0-9._-] replaced by one "-", leading/trailing "-" stripped: "branch-feature-x"

    Tags must be valid registry tags: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (truncate to 128).
    Raise ValueError for an empty version, a sha that is not hex, or an empty branch name.
    """
    # BEGIN SOLUTION: build the three tags described above
    if not version.strip():
        raise ValueError("version is empty")
    sha = git_sha.strip().lower()
    if len(sha) < 7 or not HEX.fullmatch(sha):
        raise ValueError(f"git sha {git_sha!r} is not a hex commit id")
    name = branch.strip()
    name = name.removeprefix("refs/heads/")
    slug = NOT_TAG_SAFE.sub("-", name.lower()).strip("-")
    if not slug:
        raise ValueError(f"branch {branch!r} gives an empty tag")
    return [version.strip()[:128], f"sha-{sha[:12]}", f"branch-{slug}"[:128]]
    # END SOLUTION


def deploy_plan(event: str, branch: str) -> list[str]:
    """The environments this run deploys to, in order.

    - event "pull_request" (any branch): [] (checks only)
    - a push to "develop": ["dev", "staging"]
    - a push to "main": ["dev", "staging", "prod"] (prod behind an approval)
    - any other push: [] (checks only)
    `branch` may carry a "refs/heads/" prefix.
    """
    # BEGIN SOLUTION: map the event and branch to the environments
    if event == "pull_request":
        return []
    name = branch.removeprefix("refs/heads/")
    if name == "develop":
        return ["dev", "staging"]
    if name == "main":
        return list(ORDER)
    return []
    # END SOLUTION


def can_promote(digest: str, env: str, passed: dict[str, str], approved: bool) -> Verification:
    """May `digest` be deployed to `env`? One Verification named f"promote to {env}".

    `passed` maps each environment to the digest that last passed its smoke test and watch
    there. Rules, checked in this order (the first that fails decides):
    - `env` must be one of ORDER ("unknown environment")
    - dev accepts any digest (it is where a build is first deployed)
    - staging and prod need passed[previous env] == digest: the SAME bytes passed the
      environment before ("the bytes tested are the bytes deployed")
    - prod also needs `approved`
    `observed` says what was found (e.g. "staging passed sha256:ab..."), `required` the rule.
    """
    # BEGIN SOLUTION: apply the rules in order
    name = f"promote to {env}"
    if env not in ORDER:
        return Verification(name, False, observed=f"environment {env!r}",
                            required=f"one of {', '.join(ORDER)}", hint="unknown environment")
    if env == "dev":
        return Verification(name, True, observed="dev accepts any build", required="a pushed digest")
    before = ORDER[ORDER.index(env) - 1]
    got = passed.get(before)
    if got != digest:
        return Verification(name, False, observed=f"{before} passed {got or 'nothing'}",
                            required=f"{before} passed {digest}",
                            hint=f"deploy {digest} to {before} and let its smoke test and watch pass first")
    if env == "prod" and not approved:
        return Verification(name, False, observed="no approval", required="an approval (--approve)",
                            hint="approve the production deploy (--approve, or answer the prompt)")
    return Verification(name, True, observed=f"{before} passed {digest}", required=f"{before} passed the same digest")
    # END SOLUTION
