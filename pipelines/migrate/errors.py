"""The migration's one error type, importable without its client libraries (the Dagger
module checks and orchestrates; only the containers run redis-py and asyncssh)."""


class MigrationError(Exception):
    """A problem the user can fix; the message says how (never a URL: it may hold a password)."""
