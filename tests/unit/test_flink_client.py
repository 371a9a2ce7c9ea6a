"""How a finished stop-with-savepoint is read: the upgrade path must not lose a savepoint Flink wrote."""

import pytest

from spendstream.flink_client import savepoint_outcome

JOB = "5c7d9b1e0f1a2b3c4d5e6f7a8b9c0d1e"
STOPPING_FAILED = (  # Flink 2.0's StopWithSavepointStoppingException, as the REST API reports it
    "org.apache.flink.runtime.scheduler.stopwithsavepoint.StopWithSavepointStoppingException: "
    "A savepoint has been created at: file:/tmp/sp/savepoint-5c7d9b-1f2e3d4c5b6a, but the corresponding job "
    f"{JOB} failed during stopping. The savepoint is consistent, but might have uncommitted transactions. "
    "If you want to commit the transaction please restart a job from this savepoint.\n\tat org.apache..."
)


def test_a_clean_stop_returns_the_location_and_a_stopped_job():
    assert savepoint_outcome(JOB, {"location": "file:/tmp/sp/savepoint-1"}) == ("file:/tmp/sp/savepoint-1", True)


def test_a_savepoint_written_before_the_job_failed_while_stopping_is_kept():
    location, stopped = savepoint_outcome(JOB, {"failure-cause": {"stack-trace": STOPPING_FAILED}})
    assert (location, stopped) == ("file:/tmp/sp/savepoint-5c7d9b-1f2e3d4c5b6a", False)


def test_no_savepoint_is_an_error_with_flinks_reason():
    trace = "java.util.concurrent.CompletionException: Checkpoint Coordinator is suspending.\n\tat ..."
    with pytest.raises(RuntimeError, match=f"savepoint of job {JOB} failed: .*Checkpoint Coordinator is suspending"):
        savepoint_outcome(JOB, {"failure-cause": {"stack-trace": trace}})
