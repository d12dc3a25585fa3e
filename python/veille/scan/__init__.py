"""Global drug-safety screen (`veille scan`): every drug against every outcome, ranked.

Counting happens in the dbt models of ``dbt_project/models/scan`` (tag ``scan``); this package
turns the counts into estimates (:mod:`.stats`, :mod:`.treescan`), stores a run
(:mod:`.run`), evaluates it against a synthetic truth (:mod:`.evaluate`) and reports it
(:mod:`.report`).
"""
