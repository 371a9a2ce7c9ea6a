"""Benchmark 6 — soak: the running job and sink at a steady rate for 30 minutes; memory and lag flat.

    python -m bench.soak --rate 3500 [--minutes 30] [--events-per-hour 5000]

Set ``--rate`` to 70% of the full job's rate measured by bench/flink_throughput.py. Events are
those of bench/latency.py (48 series, event time one hour per ``--events-per-hour`` events). The
sink is ``spendstream sink influx`` in a process of its own, as it is deployed (in this process it
would share one interpreter lock with the producer). Every 30 s: the TaskManager's resident
memory, the sink's, and the consumer lag of the job's and the sink's groups (committed offsets,
so the job's moves at checkpoints), the sink's also per output topic, printed as it is taken.
Flat means: the last five minutes' mean within 10% of the five minutes after warm-up, and lag
not growing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from bench.latency import HOUR_MS, START_MS, event
from bench.report import keep_pace, publish
from bench.stack import embedded_stack
from connectors.consumer_lag import consumer_lag
from connectors.kafka_io import ensure_topics, producer
from spendstream.config import Config, to_env
from spendstream.flink_client import cancel, rest, submit
from spendstream.stack import LocalStack

SAMPLE_S = 30


def rss_mib(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def produce_for(
    config: Config, rate: int, events_per_hour: int, seconds: float, stop: threading.Event, achieved: list[float]
) -> None:
    """Send at ``rate`` for ``seconds``; appends the rate actually achieved (the producer may fall short)."""
    sender, topic = producer(config), config.kafka.topic("raw_cost")
    partitions = config.kafka.topics["raw_cost"].partitions
    step_ms = HOUR_MS // events_per_hour
    started, sent = time.perf_counter(), 0
    while time.perf_counter() - started < seconds and not stop.is_set():
        hour_ms = START_MS + (sent // events_per_hour) * HOUR_MS
        n = sent % events_per_hour
        key, value = event(n, hour_ms, hour_ms + n * step_ms, spike=False)
        sender.send(topic, key=key, value=value, partition=n % partitions, timestamp_ms=hour_ms + n * step_ms)
        sent += 1
        keep_pace(started, sent, rate)
    sender.flush()
    sender.close()
    achieved.append(sent / (time.perf_counter() - started))


def sample(config: Config, local: LocalStack, sink: subprocess.Popen) -> dict:
    """Memory and lag now; ``sink_topics`` is the sink's lag per output topic (which one is behind, if any)."""
    lags = consumer_lag(config)
    sink_lags = [item for item in lags if item.group == config.kafka.sink_group]
    sink_topics: Counter[str] = Counter()
    for item in sink_lags:
        sink_topics[item.topic] += item.lag
    return {
        "taskmanager_mib": sum(rss_mib(pid) for pid in local.taskmanager_pids()),
        "sink_mib": rss_mib(sink.pid),
        "job_lag": sum(item.lag for item in lags if item.group == config.kafka.job_group),
        "sink_lag": sum(item.lag for item in sink_lags),
        "job_written": sum(item.end for item in lags if item.group == config.kafka.job_group),
        "sink_written": sum(item.end for item in sink_lags),
        "sink_topics": sink_topics,
    }


def described(taken: dict) -> str:
    """One sample as a line, so a run shows when lag or memory began to move."""
    topics = ", ".join(f"{topic} {lag:,}" for topic, lag in sorted(taken["sink_topics"].items()) if lag)
    return (
        f"{taken['minute']:5.1f} min: job lag {taken['job_lag']:,.0f}, sink lag {taken['sink_lag']:,.0f} ({topics}), "
        f"TaskManager {taken['taskmanager_mib']:,.0f} MiB, sink {taken['sink_mib']:,.0f} MiB"
    )


def written_per_s(samples: list[dict], group: str) -> float:
    """Records per second written to the topics ``group`` reads (events for the job, outputs for the sink)."""
    first, last = samples[0], samples[-1]
    minutes = last["minute"] - first["minute"]
    return (last[f"{group}_written"] - first[f"{group}_written"]) / (minutes * 60) if minutes > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, required=True, help="events/s: 70%% of the measured maximum")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--events-per-hour", type=int, default=5000)
    args = parser.parse_args()
    samples: list[dict] = []
    achieved: list[float] = []
    with embedded_stack() as config, Progress() as progress:
        ensure_topics(config)
        job_id = submit(config, "cost-aggregation", ["--from-earliest"])
        while rest(config, f"/jobs/{job_id}")["state"] != "RUNNING":
            time.sleep(0.5)
        stop = threading.Event()
        spendstream = Path(sys.executable).with_name("spendstream")
        sink = subprocess.Popen([str(spendstream), "sink", "influx"], env={**os.environ, **to_env(config)})
        seconds = args.minutes * 60
        feeder = threading.Thread(
            target=produce_for, args=(config, args.rate, args.events_per_hour, seconds, stop, achieved), daemon=True
        )
        feeder.start()
        task = progress.add_task(f"soak at {args.rate:,} events/s", total=seconds)
        started = time.perf_counter()
        try:
            while feeder.is_alive():
                time.sleep(SAMPLE_S)
                minute = (time.perf_counter() - started) / 60
                samples.append({"minute": minute, **sample(config, LocalStack(config), sink)})
                progress.console.print(described(samples[-1]), soft_wrap=True)
                progress.update(task, completed=min(time.perf_counter() - started, seconds))
                assert rest(config, f"/jobs/{job_id}")["state"] == "RUNNING", "the job stopped during the soak"
                assert sink.poll() is None, f"the sink stopped during the soak (exit {sink.returncode})"
        finally:
            stop.set()
            feeder.join(60)
            sink.terminate()
            try:
                sink.wait(30)
            except subprocess.TimeoutExpired:
                sink.kill()
            cancel(config, job_id)
    report(args, samples, achieved[0] if achieved else 0.0)


def report(args, samples: list[dict], achieved: float) -> None:
    early = [s for s in samples if 2 <= s["minute"] < 7] or samples[:1]
    late = [s for s in samples if s["minute"] >= samples[-1]["minute"] - 5]
    table = Table("measure", "minutes 2-7", "last 5 minutes", "change", "flat")
    rates = {group: written_per_s(samples, group) for group in ("job", "sink")}
    for name, tolerance in (("taskmanager_mib", 0.10), ("sink_mib", 0.10), ("job_lag", None), ("sink_lag", None)):
        before, after = statistics.fmean(s[name] for s in early), statistics.fmean(s[name] for s in late)
        change = (after - before) / before if before else 0.0
        own_input = rates[name.removesuffix("_lag")] if tolerance is None else 0.0
        flat = abs(change) <= tolerance if tolerance else after <= max(before * 1.5, own_input * 15)
        table.add_row(name, f"{before:,.0f}", f"{after:,.0f}", f"{change:+.1%}", "yes" if flat else "no")
    for topic in sorted({topic for s in samples for topic in s["sink_topics"]}):  # which one is behind
        before = statistics.fmean(s["sink_topics"][topic] for s in early)
        after = statistics.fmean(s["sink_topics"][topic] for s in late)
        table.add_row(f"  {topic}", f"{before:,.0f}", f"{after:,.0f}", "", "")
    publish(
        f"Soak, {args.minutes:g} minutes at {args.rate:,} events/s (achieved {achieved:,.0f})",
        table,
        [
            f"{len(samples)} samples every {SAMPLE_S} s; memory = resident set (TaskManager JVM + Python; the sink, "
            "`spendstream sink influx`, in its own process)",
            "lag = stored records after the group's committed offsets; the job commits at checkpoints (every "
            "10 s), so up to ~15 s of input shows as lag; flat = not above 1.5× its early level or 15 s of the "
            f"group's own input: {rates['job']:,.0f} events/s for the job, {rates['sink']:,.0f} output records/s "
            "for the sink",
        ],
    )


if __name__ == "__main__":
    main()
