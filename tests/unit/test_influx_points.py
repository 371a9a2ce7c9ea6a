from connectors.influx_points import aggregate_point, micros


def aggregate(**overrides):
    record = {
        "aggregate_id": "x",
        "scope": "account_service",
        "window_start_ms": 1790776800000,
        "window_end_ms": 1790780400000,
        "account_id": "111111111111",
        "account_name": "retail prod",
        "service": "AmazonEC2",
        "region": "us-east-1",
        "charge_type": "usage",
        "cost_center": "CC-100",
        "project": "storefront",
        "environment": "production",
        "team": "web",
        "currency": "USD",
        "unblended_cost": "1.2345675",
        "net_cost": "1.2",
        "line_items": 3,
    }
    record.update(overrides)
    return record


def test_cost_point_line_protocol():
    line = aggregate_point(aggregate()).to_line_protocol()
    assert line == (
        "cost,account=111111111111,account_name=retail\\ prod,charge_type=usage,cost_center=CC-100,currency=USD,"
        "environment=production,project=storefront,region=us-east-1,service=AmazonEC2,team=web "
        "line_items=3i,net_usd=1.2,usd=1.2345675,usd_micros=1234568i 1790776800000"
    )


def test_cost_center_rollup_goes_to_its_own_measurement_with_its_key_as_tags():
    line = aggregate_point(aggregate(scope="cost_center", account_id="*")).to_line_protocol()
    assert line.startswith("cost_by_cost_center,charge_type=usage,cost_center=CC-100,currency=USD ")


def test_micros_are_exact_integers_with_half_even_rounding():
    assert micros("-5.25") == -5_250_000
    assert micros("0.0000005") == 0
    assert micros("0.0000015") == 2
    assert micros("123456789.123456") == 123_456_789_123_456
