"""Monthly state sequences: decoding the letters of fct_pathways_state_sequences and the
substitution costs between states."""

from __future__ import annotations

import numpy as np

N_OBSERVED = 16  # 'A'..'P' = 4 treatment levels x monitoring x hospitalised
OUT = N_OBSERVED  # '.' = not observed
N_STATES = N_OBSERVED + 1
TREATMENT_LABELS = ("no treatment", "one class", "two+ classes", "insulin")


def encode(strings: list[str] | np.ndarray, months: int | None = None) -> np.ndarray:
    """State strings -> (n, months) int8 codes (0..15 observed, 16 = not observed)."""
    if len(strings) == 0:
        return np.zeros((0, months or 0), np.int8)
    width = months or max(len(s) for s in strings)
    padded = [s.ljust(width, ".")[:width] for s in strings]
    raw = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8).reshape(len(padded), width)
    codes = raw.astype(np.int16) - ord("A")
    codes[raw == ord(".")] = OUT
    if (codes < 0).any() or (codes > OUT).any():
        raise ValueError("state strings hold letters outside A-P and '.'")
    return codes.astype(np.int8)


def parts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(treatment 0-3, monitoring 0/1, hospitalised 0/1) of observed codes."""
    c = np.asarray(codes, np.int16)
    return c // 4, (c // 2) % 2, c % 2


def substitution_costs(treatment: float = 1.0, monitoring: float = 2.0,
                       hospitalised: float = 0.5, unobserved: float = 2.0) -> np.ndarray:
    """(17, 17) costs: weighted absolute differences of treatment level (ordinal), monitoring
    and hospitalisation; ``unobserved`` between a month observed and one not observed."""
    s = np.arange(N_OBSERVED)
    t, m, h = parts(s)
    cost = np.full((N_STATES, N_STATES), float(unobserved))
    cost[:N_OBSERVED, :N_OBSERVED] = (
        treatment * np.abs(t[:, None] - t[None, :])
        + monitoring * np.abs(m[:, None] - m[None, :])
        + hospitalised * np.abs(h[:, None] - h[None, :])
    )
    cost[OUT, OUT] = 0.0
    return cost
