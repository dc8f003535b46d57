"""Local files as inputs: one file, or every regular file of a folder, with a reason for each one skipped.

A folder is walked without following a link out of it: a link is read only when it leads to a
regular file inside the folder. What cannot be read as a file (a link out, a loop, a dangling
link, a FIFO, a device, a socket, a folder that cannot be listed) becomes an input whose read is
refused with the reason, so it is recorded like any other rejection rather than silently dropped.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected
from segmad.ingestion.input import Input, refused

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(path: Path | str) -> str:
    """The path as a valid, one-line UTF-8 name: undecodable bytes and control characters as \\xNN escapes."""
    # A file name is bytes: one that is not UTF-8 cannot be stored in the catalog, and a newline
    # in a name would split the summary's lines.
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        # Non-blocking, so that a FIFO put in a file's place is refused instead of waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise Rejected("unreadable", f"{type(error).__name__}: {error.strerror or error}") from None
    with open(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise Rejected("not-a-file", f"{_kind(status.st_mode)} is not a regular file")
        if status.st_size > max_bytes:
            raise Rejected("file-too-large", f"{status.st_size} bytes is over {max_bytes}")
        try:
            return file.read(max_bytes + 1)
        except OSError as error:
            raise Rejected("unreadable", f"{type(error).__name__}: {error.strerror or error}") from None


def file_input(path: Path, limits: Limits) -> Input:
    """A local file."""
    return Input(printable(path.resolve()), functools.partial(_read_file, path.resolve(), limits.max_bytes))


def _kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISDIR: "a folder"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def _follow(link: Path, root: Path) -> Path | Rejected:
    """The regular file inside `root` that `link` leads to, or why it is not read."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return Rejected("symlink-loop", "the link leads back to itself")
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Rejected("symlink-loop", "the link leads back to itself")
        if error.errno == errno.ENOENT:
            return Rejected("dangling-symlink", f"the link leads to {printable(os.readlink(link))}, which does not exist")
        return Rejected("unreadable", f"{type(error).__name__}: {error.strerror or error}")
    if not target.is_relative_to(root):
        return Rejected("link-outside", f"the link leads to {printable(target)}, outside the folder: not followed")
    mode = target.stat().st_mode
    if stat.S_ISDIR(mode):
        return Rejected("not-a-file", "a link to a folder: its files are read where they are")
    if not stat.S_ISREG(mode):
        return Rejected("not-a-file", f"the link leads to {_kind(mode)}, not a regular file")
    return target


def _walk(folder: Path, root: Path) -> Iterator[tuple[Path, Path | Rejected]]:
    """(name, file to read or why not) for each visible entry under `folder`; hidden names skipped."""
    try:
        with os.scandir(folder) as listing:
            entries = [entry for entry in listing if not entry.name.startswith(".")]
    except OSError as error:
        yield folder, Rejected("unreadable", f"cannot list this folder: {error.strerror or error}")
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_symlink():
                yield path, _follow(path, root)
            elif entry.is_dir(follow_symlinks=False):
                yield from _walk(path, root)
            elif entry.is_file(follow_symlinks=False):
                yield path, path
            else:
                yield path, Rejected("not-a-file", f"{_kind(entry.stat(follow_symlinks=False).st_mode)} is not a regular file")
        except OSError as error:  # gone or unreadable between the listing and the look
            yield path, Rejected("unreadable", f"{type(error).__name__}: {error.strerror or error}")


def folder_inputs(folder: Path, limits: Limits) -> list[Input]:
    """Every visible entry under `folder`, recursively, sorted: regular files to read, the rest refused with a reason."""
    root = folder.resolve()
    found = []
    for path, target in sorted(_walk(root, root), key=lambda pair: pair[0]):
        if isinstance(target, Rejected):
            found.append(refused(printable(path), target))
        else:
            found.append(Input(printable(target), functools.partial(_read_file, target, limits.max_bytes)))
    return found
