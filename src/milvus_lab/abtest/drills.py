"""Lab 04's drills: what each one changes in the experiment and the decision it must reach.

The faults live in the experiment file the API evaluates (`assignment.Faults`), so a
drill is the same experiment with one variant changed, on every target.
"""

from __future__ import annotations

import argparse

from milvus_lab.abtest.assignment import Experiment, Faults
from milvus_lab.abtest.decision import INCONCLUSIVE, INVALID, KEEP_A, SHIP_B

EXPECTED = {"plain": SHIP_B, "aa": INCONCLUSIVE, "srm": INVALID, "regression": KEEP_A}
SRM_FAULT = Faults(lose_exposure=0.5)
REGRESSION_FAULT = Faults(delay_ms=80, error_rate=0.08)


def drill_name(args: argparse.Namespace) -> str:
    """The drill the flags ask for ("plain" without one)."""
    return ("aa" if args.aa else "srm" if args.inject_srm
            else "regression" if args.inject_regression else "plain")


def experiment_for(drill: str, base: Experiment | None = None) -> Experiment:
    """The repo's experiment file with the drill's change applied to variant B."""
    exp = base or Experiment.from_file()
    if drill == "aa":
        return exp.with_changes("B", search_params=exp.search_params("A"))
    if drill == "srm":
        return exp.with_changes("B", faults=SRM_FAULT)
    if drill == "regression":
        return exp.with_changes("B", faults=REGRESSION_FAULT)
    return exp


def describe(drill: str) -> str:
    """One line for the deploy step: what is wrong with B in this drill ("" when nothing)."""
    return {"aa": " [A/A: B gets A's params]",
            "srm": f" [fault: B loses {SRM_FAULT.lose_exposure:.0%} of its users' assignments]",
            "regression": f" [fault: B +{REGRESSION_FAULT.delay_ms:g} ms, "
                          f"{REGRESSION_FAULT.error_rate:.0%} errors]"}.get(drill, "")
