"""Reading a synthetic extract's truth.json: now :func:`veille.evaluation.read_truth_file`,
where every evaluation against the truth reads it. This name stays for the callers of the old one."""

from veille.evaluation import read_truth_file

__all__ = ["read_truth_file"]
