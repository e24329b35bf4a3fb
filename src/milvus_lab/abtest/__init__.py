"""Lab 04's domain code: A/B testing two search configurations on live traffic.

design (power analysis) -> assignment (GrowthBook, in the search API) -> records (what
each request saw) -> validity (SRM, stickiness) -> analysis (tests, effects, CIs) ->
sequential (always-valid monitoring) -> decision (ship / keep / inconclusive / invalid).
"""
