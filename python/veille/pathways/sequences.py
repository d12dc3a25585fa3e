"""Monthly state sequences: decoding the letters of fct_pathways_state_sequences and the
substitution costs between states."""

from __future__ import annotations

import numpy as np

N_OBSERVED = 24  # 'A'..'X' = 4 treatment levels x 3 monitoring levels x hospitalised
OUT = N_OBSERVED  # '.' = not observed
N_STATES = N_OBSERVED + 1
TREATMENT_LABELS = ("no treatment", "one class", "two+ classes", "insulin")
MONITORING_LABELS = ("low monitoring", "regular monitoring", "complete monitoring")


def encode(strings: list[str] | np.ndarray, months: int | None = None) -> np.ndarray:
    """State strings -> (n, months) int8 codes (0..23 observed, 24 = not observed)."""
    if len(strings) == 0:
        return np.zeros((0, months or 0), np.int8)
    width = months or max(len(s) for s in strings)
    padded = [s.ljust(width, ".")[:width] for s in strings]
    raw = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8).reshape(len(padded), width)
    codes = raw.astype(np.int16) - ord("A")
    codes[raw == ord(".")] = OUT
    if (codes < 0).any() or (codes > OUT).any():
        raise ValueError("state strings hold letters outside A-X and '.'")
    return codes.astype(np.int8)


def parts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(treatment 0-3, monitoring 0 low / 1 regular / 2 complete, hospitalised 0/1) of codes."""
    c = np.asarray(codes, np.int16)
    return c // 6, (c // 2) % 3, c % 2


# Costs between treatment levels (none, one class, two+ classes, insulin): stopping treatment
# and starting insulin are the big changes; adding an oral class is a small one.
TREATMENT_COSTS = np.array([
    [0.0, 2.0, 2.5, 3.0],
    [2.0, 0.0, 0.5, 1.5],
    [2.5, 0.5, 0.0, 1.0],
    [3.0, 1.5, 1.0, 0.0],
])


def substitution_costs(treatment: float = 0.5, monitoring: float = 3.0,
                       hospitalised: float = 0.25,
                       treatment_costs: np.ndarray | None = None) -> np.ndarray:
    """(N_STATES, N_STATES) = (25, 25) costs between states: ``treatment`` x TREATMENT_COSTS between the treatment
    levels + ``monitoring`` x |monitoring difference| + ``hospitalised`` x |hospitalisation
    difference|. Months not observed cost 0: distances are averaged over the months both
    patients are observed (see ``clustering.distances``)."""
    tc = TREATMENT_COSTS if treatment_costs is None else np.asarray(treatment_costs, float)
    s = np.arange(N_OBSERVED)
    t, m, h = parts(s)
    cost = np.zeros((N_STATES, N_STATES))
    cost[:N_OBSERVED, :N_OBSERVED] = (
        treatment * tc[t[:, None], t[None, :]]
        + monitoring * np.abs(m[:, None] - m[None, :])
        + hospitalised * np.abs(h[:, None] - h[None, :])
    )
    return cost
