"""The names the jobs run under on the cluster, importable without PyFlink (the supervisor finds its job by name)."""

COST_JOB = "spendstream-cost-aggregation"
CORRECTION_JOB = "spendstream-cost-correction"  # a --restated run
