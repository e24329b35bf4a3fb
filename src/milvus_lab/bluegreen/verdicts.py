"""Lab 03's verdicts on the whole run, read from the load test's own record."""

from __future__ import annotations

from milvus_lab.load.result import LoadResult
from milvus_lab.releases import V1, V2
from milvus_lab.verification import Verification


def load_verdicts(result: LoadResult, *, switched_at: float | None, rollback: dict | None, manual: bool,
                  fault: str | None, stopped: bool, blue_stopped_at: float | None = None) -> list[Verification]:
    """What users saw: enough traffic, no failures (unless a fault was injected), who answered."""
    out = [Verification("load ran (>= 100 requests)", result.requests >= 100, str(result.requests), ">= 100")]
    if fault != "errors":
        out.append(Verification("0 failed requests", result.failures == 0, f"{result.failures} of {result.requests}",
                                "0", f"read {result.files.log}"))
    if rollback:
        after = result.window(rollback["completed_at"] + 1, result.end + 1, "after rollback")
        out.append(Verification("no request served by v2 after rollback",
                                after.versions.get("v2", 0) == 0 < after.requests,
                                f"{after.versions.get('v2', 0)} of {after.requests}", "0 of > 0"))
        if not manual:
            out.append(Verification("rolled back within 10 s of the switch", rollback["since_switch_s"] <= 10,
                                    f"{rollback['since_switch_s']} s", "<= 10 s"))
    blue, green = f"{V1.slot}/{V1.version}", f"{V2.slot}/{V2.version}"
    if switched_at is None:
        out.append(Verification("users never saw the candidate", set(result.served_by) == {blue},
                                str(dict(result.served_by)), f"only {blue}"))
    else:
        out.append(Verification("both versions answered", {blue, green} <= set(result.served_by),
                                str(dict(result.served_by)), f"{blue} and {green}"))
    if switched_at and not rollback and not stopped:
        # from the second after blue stopped (the lab waits for answers there) to the end
        tail = result.window(blue_stopped_at + 1 if blue_stopped_at else result.end - 2, result.end + 1, "end")
        out.append(Verification(f"{green} answers at the end", set(tail.served_by) == {green},
                                str(dict(tail.served_by)), f"only {green}"))
    return out
