from connectors.replay import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_speed_3600_replays_one_hour_of_usage_per_second():
    clock = FakeClock()
    pacer = Pacer(3600, clock=clock, sleep=clock.sleep)
    for hour in range(4):
        pacer.wait_for(hour * 3600_000)
    assert clock.now == 103.0
    assert clock.slept == [1.0, 1.0, 1.0]


def test_no_wait_when_behind_schedule_or_unpaced():
    clock = FakeClock()
    pacer = Pacer(3600, clock=clock, sleep=clock.sleep)
    pacer.wait_for(0)
    clock.now += 5  # producing was slow: already past when the next hour is due
    pacer.wait_for(3600_000)
    assert clock.slept == []
    unpaced = Pacer(None, clock=clock, sleep=clock.sleep)
    unpaced.wait_for(0), unpaced.wait_for(10**12)
    assert clock.slept == []
