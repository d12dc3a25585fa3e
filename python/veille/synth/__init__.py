"""Synthetic SNDS extracts with injected, known effects (`veille synth`)."""

from veille.synth.generate import generate

__all__ = ["generate"]
