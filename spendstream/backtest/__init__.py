"""``spendstream backtest``: historical exports through the job's detection and forecast code, and its report."""
