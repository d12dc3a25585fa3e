"""Misuse and fraud screening: whole-base monthly sweeps for doctor shopping, phantom billing
and outlier providers, ranked alerts with reasons, evaluation and a masked report."""

from veille.fraud.settings import SweepSettings
from veille.fraud.sweep import scan_month, sweep_all

__all__ = ["SweepSettings", "scan_month", "sweep_all"]
