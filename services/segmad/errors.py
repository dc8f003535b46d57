"""Errors a user can act on; the CLI prints them as one line and exits with status 2."""


class InputError(Exception):
    """Bad input from the user: a file, a folder or an argument segmad cannot use."""

    def __init__(self, message: str, path: object | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)
