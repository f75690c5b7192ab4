"""Measured drills: the plan's failure scenarios, run for real on the local cluster."""
