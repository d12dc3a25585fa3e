"""Care pathways: care use, adherence, guideline indicators, treatment lines, trajectory clusters."""
