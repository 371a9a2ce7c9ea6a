"""Applying restated billing periods while the cost job keeps running.

A replay publishes the rows of every billing period it published before to the restated topic
(connectors/deliveries.py), where the continuously running job never sees them: there they
would be late, or land in an open hour beside the older delivery's rows. A correction run of
the cost job (``--restated``) reads exactly the offsets the replay wrote and recomputes the
hourly aggregates of the hours they cover; the sink overwrites the running job's values, so
the books follow the restatement with the running job never stopped.
"""

from __future__ import annotations

import shlex

from connectors.replay import ReplaySummary
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job


def correction_command(summary: ReplaySummary) -> str:
    """The command that applies ``summary``'s restated periods (to run it by hand)."""
    return f"spendstream job submit --wait {shlex.join(summary.restated.correction_args())}"


def apply_restatements(config: Config, summary: ReplaySummary, timeout_s: float = 1800) -> str | None:
    """Run the correction of ``summary``'s restated periods to its end: its job id, None if none were restated."""
    if not summary.deliveries.restated:
        return None
    job_id = submit(config, "cost-aggregation", summary.restated.correction_args())
    state = wait_for_job(config, job_id, timeout_s)
    if state != "FINISHED":
        periods = ", ".join(sorted(summary.deliveries.restated))
        raise RuntimeError(
            f"the correction run {job_id} of billing periods {periods} ended {state}: {job_failure(config, job_id)}; "
            f"the restated rows are kept in {config.kafka.topic('restated_cost')}: fix the cause and run "
            f"`{correction_command(summary)}`"
        )
    return job_id
