"""Loading SNDS extracts (format: ../shared/snds/README.md) into the claims schema."""

from veille.load.loader import LoadSummary, load_extract

__all__ = ["LoadSummary", "load_extract"]
