# Exercise generated from solutions/lab06_monitoring.py by `python -m milvus_lab.exercises`.
"""Lab 06 exercise: the arithmetic behind SLO alerts.

1. `burn_rate`: how fast may the error budget burn before someone must act?
2. `error_ratio_threshold`: that burn rate as an error ratio an alert compares against.
3. `alert_severity`: the multi-window decision (page / ticket / nothing) for measured ratios.
4. `budget_remaining`: how much of the period's error budget is left.

Sloth generates the real rules from `deploy/slo/search-api.yaml`; the lab checks that your
numbers equal the thresholds in those generated rules and in the running Prometheus, and
that your budget matches Sloth's `slo:period_error_budget_remaining:ratio`.
`pytest checks -k lab06` tests these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_S = 86400.0
PERIOD_S = 30 * DAY_S  # the SLO period (Sloth's default: 30 days)


@dataclass(frozen=True)
class AlertWindow:
    """One condition of a multi-window multi-burn-rate alert (Google SRE workbook, ch. 5)."""

    severity: str  # "page" or "ticket"
    long_s: float  # the long window: is the burn real?
    short_s: float  # the short window: is it still happening? (1/12 of the long one)
    budget_spent: float  # share of the period's budget spent in `long_s` that triggers it


# The workbook's table, which Sloth implements: 2% of the budget in 1 hour or 5% in 6 hours
# pages; 10% in 1 day or 10% in 3 days opens a ticket.
WINDOWS = (
    AlertWindow("page", 3600, 300, 0.02),
    AlertWindow("page", 6 * 3600, 1800, 0.05),
    AlertWindow("ticket", DAY_S, 2 * 3600, 0.10),
    AlertWindow("ticket", 3 * DAY_S, 6 * 3600, 0.10),
)


def burn_rate(budget_spent: float, window_s: float, period_s: float = PERIOD_S) -> float:
    """The burn rate that spends `budget_spent` (a share, 0.02 = 2%) of the period's error
    budget within `window_s`. A burn rate of 1 spends exactly the whole budget in the period.

    Example: 2% of a 30-day budget in 1 hour is a burn rate of 14.4.
    """
    # TODO: burn rate = share of budget spent x (period / window)
    raise NotImplementedError('burn rate = share of budget spent x (period / window)')


def error_ratio_threshold(objective_pct: float, rate: float) -> float:
    """The error ratio at which the SLO burns at `rate`: rate x (1 - objective).

    Example: objective 99.9 (%) and burn rate 14.4 give 0.0144 (1.44% of requests failing).
    """
    # TODO: the error budget is 1 - objective/100; multiply by the burn rate
    raise NotImplementedError('the error budget is 1 - objective/100; multiply by the burn rate')


def alert_severity(ratios: dict[float, float], objective_pct: float,
                   windows: tuple[AlertWindow, ...] = WINDOWS) -> str | None:
    """"page", "ticket" or None for measured error ratios by window length in seconds
    (e.g. {300: 0.02, 3600: 0.001, ...}).

    A window condition holds when BOTH its long and its short window ratio exceed the
    threshold for its burn rate (the long window proves the burn is significant, the short
    one that it is still going on). Any page condition wins over any ticket condition.
    A window missing from `ratios` never holds.
    """
    # TODO: check each window's long AND short ratio against its threshold
    raise NotImplementedError("check each window's long AND short ratio against its threshold")


def budget_remaining(objective_pct: float, errors: float, total: float) -> float:
    """The share of the error budget left after `errors` bad events out of `total`:
    1 - (errors / total) / (1 - objective). 1.0 = untouched, 0 = spent, negative = overspent.
    No traffic spends nothing (1.0).
    """
    # TODO: 1 minus the error ratio as a share of the budget; no traffic -> 1.0
    raise NotImplementedError('1 minus the error ratio as a share of the budget; no traffic -> 1.0')
