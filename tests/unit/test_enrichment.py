import pytest

from pipelines.enrichment import directory_from_document, load_directory

DOCUMENT = {
    "defaults": {"cost_center": "unallocated"},
    "accounts": {
        "111111111111": {
            "name": "retail-prod",
            "cost_center": "CC-100",
            "project": "storefront",
            "environment": "production",
        },
        "222222222222": {"name": "sandbox"},
    },
    "tag_rules": [
        {"tag": "user_team", "dimension": "team"},
        {"tag": "user_environment", "dimension": "environment", "values": {"prod": "production"}},
        {"tag": "user_cost_center", "dimension": "cost_center"},
    ],
}


def test_account_context_with_tag_rule_for_team():
    context = directory_from_document(DOCUMENT).context("111111111111", {"user_team": "checkout"})
    assert (context.account_name, context.cost_center, context.project, context.environment, context.team) == (
        "retail-prod",
        "CC-100",
        "storefront",
        "production",
        "checkout",
    )


def test_tags_win_over_account_values_and_values_are_mapped():
    context = directory_from_document(DOCUMENT).context(
        "111111111111", {"user_cost_center": "CC-999", "user_environment": "prod"}
    )
    assert context.cost_center == "CC-999"
    assert context.environment == "production"


def test_defaults_fill_what_an_account_does_not_say():
    context = directory_from_document(DOCUMENT).context("222222222222", {})
    assert (context.account_name, context.cost_center, context.team) == ("sandbox", "unallocated", "unassigned")


def test_unknown_account_keeps_its_id_as_name():
    context = directory_from_document(DOCUMENT).context("333333333333", {"user_team": " "})
    assert context.account_name == "333333333333"
    assert context.team == "unassigned"  # blank tag values do not count


def test_bad_tag_rule_is_refused_with_the_file_named():
    with pytest.raises(ValueError, match="accounts.yaml: tag rule"):
        directory_from_document({"tag_rules": [{"tag": "x", "dimension": "colour"}]}, source="accounts.yaml")


def test_bundled_accounts_file_loads_with_budgets():
    directory = load_directory(__import__("pathlib").Path(__file__).parents[2] / "accounts.yaml")
    assert {b.period for b in directory.budgets("444444444444")} == {"daily"}
    assert directory.context("444444444444", {}).cost_center == "CC-300-research"


def test_anomaly_thresholds_per_account_are_read_and_checked():
    import pytest

    from pipelines.anomaly import DetectorSettings
    from pipelines.enrichment import directory_from_document

    document = {"accounts": {"1": {"anomaly": {"relative_threshold": 0.8, "dollar_threshold": 50}}}}
    directory = directory_from_document(document)
    assert directory.anomaly_settings("1") == DetectorSettings(relative_threshold=0.8, dollar_threshold=50.0)
    assert directory.anomaly_settings("unknown") == DetectorSettings()
    with pytest.raises(ValueError, match="unknown anomaly setting"):
        directory_from_document({"accounts": {"1": {"anomaly": {"threshold": 1}}}})
    with pytest.raises(ValueError, match="warmup_days must be between 1 and 14"):
        directory_from_document({"accounts": {"1": {"anomaly": {"warmup_days": 30}}}})


def test_a_service_with_alerts_marked_false_positive_gets_raised_thresholds():
    import pytest

    from pipelines.anomaly import DetectorSettings
    from pipelines.enrichment import directory_from_document

    anomaly = {"relative_threshold": 0.8, "false_positives": {"AmazonEC2": 2, "AWSLambda": 0}}
    directory = directory_from_document({"accounts": {"1": {"anomaly": anomaly}}})
    base = DetectorSettings(relative_threshold=0.8)
    raised = directory.anomaly_settings("1", "AmazonEC2")
    assert raised.false_positives == 2
    assert raised.relative_threshold == pytest.approx(0.8 * 1.25**2)
    assert raised.z_threshold == pytest.approx(base.z_threshold * 1.25**2)
    assert raised.dollar_threshold == pytest.approx(base.dollar_threshold * 1.25**2)
    assert directory.anomaly_settings("1", "AWSLambda") == directory.anomaly_settings("1") == base
    many = directory_from_document({"accounts": {"1": {"anomaly": {"false_positives": {"S3": 40}}}}})
    assert many.anomaly_settings("1", "S3").z_threshold == pytest.approx(5.0 * 1.25**4)  # four marks count at most
    for bad in ({"S3": -1}, {"S3": "2"}, {"S3": True}, ["S3"]):
        with pytest.raises(ValueError, match="false_positives maps a service to a count"):
            directory_from_document({"accounts": {"1": {"anomaly": {"false_positives": bad}}}})
