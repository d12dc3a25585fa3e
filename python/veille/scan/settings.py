"""Settings of a scan, validated once and shared by the dbt vars and the statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from veille.errors import VeilleError


@dataclass(frozen=True)
class ScanSettings:
    """Windows in days (latency_days: where the long-term part of an episode starts, for the
    latent O/E); min_events per pair; Monte Carlo replicates and seed; FDR level."""

    washout_days: int = 365
    ssa_window_days: int = 365
    risk_start_day: int = 1
    risk_end_day: int = 182
    control_start_day: int = 183
    control_end_day: int = 365
    latency_days: int = 365
    min_events: int = 3
    replicates: int = 999
    seed: int = 1
    fdr: float = 0.05

    def __post_init__(self) -> None:
        if self.washout_days < 0:
            raise VeilleError(f"washout must be >= 0 days, got {self.washout_days}")
        if self.ssa_window_days < 1:
            raise VeilleError(f"sequence symmetry window must be >= 1 day, got {self.ssa_window_days}")
        if not (0 < self.risk_start_day <= self.risk_end_day):
            raise VeilleError(
                f"risk window must be 1 <= start <= end days, got {self.risk_start_day}-{self.risk_end_day}"
            )
        if not (self.control_start_day <= self.control_end_day) or not (
            self.risk_end_day < self.control_start_day or self.control_end_day < self.risk_start_day
        ):
            raise VeilleError(
                f"control window {self.control_start_day}-{self.control_end_day} must be non-empty and "
                f"must not overlap the risk window {self.risk_start_day}-{self.risk_end_day}"
            )
        if self.latency_days < 1:
            raise VeilleError(f"latency must be >= 1 day, got {self.latency_days}")
        if self.min_events < 1:
            raise VeilleError(f"min events must be >= 1, got {self.min_events}")
        if self.replicates < 19:
            raise VeilleError(f"at least 19 Monte Carlo replicates are needed, got {self.replicates}")
        if not (0 < self.fdr < 1):
            raise VeilleError(f"FDR level must be between 0 and 1, got {self.fdr}")

    @property
    def risk_days(self) -> int:
        return self.risk_end_day - self.risk_start_day + 1

    @property
    def control_days(self) -> int:
        return self.control_end_day - self.control_start_day + 1

    def dbt_vars(self) -> dict[str, int]:
        """The vars of the scan models (dbt_project/models/scan)."""
        return {
            "scan_washout_days": self.washout_days,
            "scan_ssa_window_days": self.ssa_window_days,
            "scan_risk_start_day": self.risk_start_day,
            "scan_risk_end_day": self.risk_end_day,
            "scan_control_start_day": self.control_start_day,
            "scan_control_end_day": self.control_end_day,
            "scan_latency_days": self.latency_days,
            "scan_min_events": self.min_events,
        }

    def as_dict(self) -> dict:
        return asdict(self)
