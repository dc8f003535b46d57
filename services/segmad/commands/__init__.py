"""The `segmad` command's subcommands, one module each: parse the arguments, call a service function, print."""

import argparse

from segmad.pipeline.keys import model_part


def model_name(text: str) -> str:
    """argparse type of a model's name (or version): one that fits blob keys and TorchServe's archives."""
    try:
        return model_part(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).replace("a model name", "a name or version")) from None
