"""Errors a user can act on; the CLI prints them as one line and exits with status 2."""


class InputError(Exception):
    """Bad input from the user: a file, a folder or an argument segmad cannot use."""

    def __init__(self, message: str, path: object | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


def not_a_folder(path) -> str:
    """Why `path` cannot be used as a folder: "no such folder", or "not a folder" when something else is there."""
    import os

    return "not a folder" if os.path.lexists(path) else "no such folder"
