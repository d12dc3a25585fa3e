"""Settings of a scan, validated once and shared by the dbt vars and the statistics.

`veille scan --settings scan.yml` reads them from YAML (keys: the field names below); the
options typed on the command line override the file (docs/scan.md, Settings).
"""

from __future__ import annotations

from pydantic import Field

from veille.settings import Settings


class ScanSettings(Settings):
    """Windows in days (tree_gap_days: the days before a new user's initiation that count
    neither as exposed nor as control time in the tree scan; latency_days: where the long-term part of an episode starts, for the
    latent O/E); min_events per pair; Monte Carlo replicates and seed; FDR level; the
    convolutional case series' lag buckets, penalty and bootstrap (conv_*)."""

    washout_days: int = Field(365, ge=0, description="history before a first dispensing or outcome is new")
    ssa_window_days: int = Field(365, ge=1, description="max days between use and outcome (SSA)")
    tree_gap_days: int = Field(30, ge=0, description="tree scan: days before initiation left out (the "
                               "outcome may have led to the drug)")
    latency_days: int = Field(365, ge=1, description="long-term O/E: exposed days this long after a start")
    min_events: int = Field(3, ge=1, description="events needed by one method for a pair to be scanned")
    replicates: int = Field(999, ge=19, description="Monte Carlo replicates of the tree scan")
    seed: int = Field(1, description="Monte Carlo seed")
    fdr: float = Field(0.05, gt=0, lt=1, description="false discovery rate level of a signal")
    conv_bucket_days: int = Field(30, ge=1, le=365, description="ConvSCCS: days per lag bucket")
    conv_lags: int = Field(12, ge=1, le=60, description="ConvSCCS: lag buckets after an exposure start")
    conv_strength_tv: float = Field(2.0, ge=0, description="ConvSCCS: total-variation penalty strength")
    conv_replicates: int = Field(0, ge=0, description="ConvSCCS: bootstrap replicates (0: analytic intervals)")
    conv_on_treatment: bool = Field(False, description="ConvSCCS: lags stop when the episode ends")

    def dbt_vars(self) -> dict[str, int]:
        """The vars of the scan models (dbt_project/models/scan)."""
        return {
            "scan_washout_days": self.washout_days,
            "scan_ssa_window_days": self.ssa_window_days,
            "scan_tree_gap_days": self.tree_gap_days,
            "scan_latency_days": self.latency_days,
            "scan_min_events": self.min_events,
        }
