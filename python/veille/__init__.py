"""veille: a SQL-first pharmacoepidemiology warehouse for French SNDS claims."""

__version__ = "0.1.0"
