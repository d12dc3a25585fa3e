"""The project's own exception types. The CLI prints them as one readable line."""


class VeilleError(Exception):
    """A user-facing error: bad input, a missing file, an impossible setting."""


class LoadError(VeilleError):
    """A file of an extract is not what it claims to be; nothing was loaded."""
