"""The `segmad` command: a table of subcommands, each imported only when it is run."""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from segmad.errors import InputError

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "world": ("segmad.commands.world", "generate the synthetic world: export"),
    "select": ("segmad.commands.select", "mine the candidate set M from label maps on disk"),
    "bench": ("segmad.bench.cli", "measure speed: select | labelling | pipeline | stream | ingest | cards"),
    "demo": ("segmad.demo.cli", "run the whole loop embedded on the synthetic world and write the report"),
    "zoo": ("segmad.commands.zoo", "train and list the model zoo"),
    "annotators": ("segmad.commands.annotators", "annotator accounts: add | password | disable | enable | token | tokens | revoke-token; simulated annotators: simulate"),
    "ingest": ("segmad.commands.ingest", "add images to the pool: a folder, a file, a file of URLs or s3://bucket/prefix"),
    "serve": ("segmad.commands.serve", "run a service: labelling | ingestion | inference | discrepancy | trainer"),
    "round": ("segmad.commands.round", "a round of Algorithm 1: start | status | candidates | close-mining | select | finetune | report"),
    "e2e": ("segmad.e2e.cli", "the whole loop over a fresh local stack with simulated annotators, then the report"),
    "predictions": ("segmad.commands.predictions", "label maps: export a round's, import maps made elsewhere"),
    "sets": ("segmad.commands.sets", "labelled training sets S0 and T0 in the blob store: add | list"),
    "stack": ("segmad.commands.stack", "the local stack of real servers: up | status | down | measure"),
    "models": ("segmad.commands.models", "the rounds' models: add (a card or a checkpoint) | list | publish | set-default"),
    "export": ("segmad.commands.export", "a round as a VOC tree, COCO JSON or Label Studio tasks, with provenance"),
    "import": ("segmad.commands.import_", "masks made in CVAT, Label Studio or a VOC tree into the round's dense campaign, for review"),
    "example": ("segmad.examples.cli", "worked examples: real (a real person segmenter on real photographs)"),
    "study": ("segmad.study.cli", "does MAD beat cheaper selections? selectors × budgets × seeds against the world's truth"),
}

# The extras that bring each optional import (pyproject.toml), for the message when it is missing. The
# services' commands are named with [train] as well, as the README installs them: most also need torch.
EXTRAS: dict[str, str] = {
    **dict.fromkeys(("torch", "matplotlib"), "train"),
    **dict.fromkeys(("tqdm", "sqlalchemy", "alembic", "psycopg2", "flask", "gunicorn", "requests", "pycocotools",
                     "google", "prometheus_client", "minio", "tenacity", "kafka", "werkzeug"), "train,services"),
    **dict.fromkeys(("yaml", "onnxruntime", "onnx", "transformers"), "models"),
    **dict.fromkeys(("pyspng", "zlib_ng"), "fast"),
    "playwright": "ui-tests",
    "ai_edge_litert": "real-example",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one-line message for a command that needs an extra this install lacks; None for any other
    missing module (a defect, not the install)."""
    top = (error.name or "").partition(".")[0]
    if top not in EXTRAS:
        return None
    return (f"needs the Python package {top!r}, which this install lacks: "
            f"pip install 'segmad[{EXTRAS[top]}]' (or 'segmad[all]' for every command)")


# A path the user gave that cannot be used as asked: a user error, said in one line, whichever command met it.
PATH_ERRORS = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EEXIST, errno.ENOSPC,
               errno.EROFS, errno.ENAMETOOLONG)


def path_problem(error: OSError) -> str | None:
    """One line for an OSError about a named path (a file where a folder is needed, no permission, a full disk);
    None for any other OSError (a network error, say), which the command must handle itself."""
    if error.filename is None or error.errno not in PATH_ERRORS:
        return None
    return f"{error.filename}: {error.strerror}"


def _user_error(command: str, error: ModuleNotFoundError | OSError) -> int:
    """Exit status 2 and one line for an extra the install lacks or a path that cannot be used; any other
    such error is raised again (a defect, or a network error the command should have handled)."""
    why = missing_extra(error) if isinstance(error, ModuleNotFoundError) else path_problem(error)
    if why is None:
        raise error
    print(f"segmad {command}: error: {why}", file=sys.stderr)
    return 2


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """A parser whose chosen subcommand (argv[0]) is fully built; the others only listed."""
    parser = argparse.ArgumentParser(
        prog="segmad",
        description="Troubleshoot a segmentation model with the MAD competition.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if argv and argv[0] == name:
            mod = importlib.import_module(module)
            mod.add_arguments(command)
            command.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run one subcommand, map user errors to exit status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv)
    except ModuleNotFoundError as error:  # the command's module needs an extra (a core-only install)
        return _user_error(argv[0], error)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except InputError as error:
        print(f"segmad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (ModuleNotFoundError, OSError) as error:  # an extra imported on the way; --out naming a file, say
        return _user_error(args.command, error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
