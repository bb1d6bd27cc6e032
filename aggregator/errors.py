"""The library's exceptions; the CLI turns them into messages and exit codes."""


class AggregatorError(Exception):
    """Base class for errors the user can act on."""


class ConfigError(AggregatorError):
    """The sources file or an option is wrong (exit code 2)."""


class LockedError(AggregatorError):
    """Another run holds the lock (exit code 75)."""


class StoreError(AggregatorError, RuntimeError):
    """The database file cannot be used: not SQLite, or written by a newer version."""
