"""`segmad bench inference` in process and in TorchServe's handler (the TorchServe path: tests/integration)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

from segmad.bench.inference import batch_sizes
from segmad.cli import main


class DictOut(nn.Module):
    """A torchvision-style segmenter: {"out": logits, "aux": ...}, 4 classes."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 4, 3, padding=1)
        self.aux = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return {"out": self.head(x), "aux": self.aux(x)}


def dict_model() -> nn.Module:
    return DictOut()


def bench(capsys, *args: str) -> dict:
    assert main(["bench", "inference", "--size", "32", "--images", "5", "--batches", "1,2", "--repeats", "1",
                 "--threads", "1", "--no-torchserve", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_zoo_target_is_timed_in_process_and_in_the_handler_with_the_same_maps(capsys, tmp_path):
    figures = bench(capsys, "--out", str(tmp_path / "f.json"))
    assert json.loads((tmp_path / "f.json").read_text()) == figures
    assert (figures["model"], figures["size"], figures["classes"], figures["batches"]) == ("zoo:deeplabv3plus", 32, 9, [1, 2])
    assert figures["device"] == "cpu (1 thread)" and figures["torchserve_left_out"] == "--no-torchserve"
    rates = figures["images_per_s"]
    assert set(rates) == {"in process", "handler"} and all(r > 0 for by in rates.values() for r in by.values())
    assert figures["ratios"] == {"handler / in process": {b: rates["handler"][b] / rates["in process"][b]
                                                          for b in ("1", "2")}}
    # the handler runs the card TorchServe would run: the same label maps, pixel for pixel
    assert figures["equal_pixels"] == {"handler": 1.0}


def test_any_builder_with_its_keyword_arguments_and_a_dict_output(capsys):
    conv = bench(capsys, "--model", "torch.nn:Conv2d", "--kwargs",
                 '{"in_channels": 3, "out_channels": 3, "kernel_size": 1}')
    assert conv["classes"] == 3 and conv["equal_pixels"] == {"handler": 1.0}
    torchvision_like = bench(capsys, "--model", f"{__name__}:dict_model")
    assert torchvision_like["classes"] == 4 and torchvision_like["equal_pixels"] == {"handler": 1.0}


def test_a_card_is_timed_as_it_is(capsys, tmp_path):
    with warnings.catch_warnings():  # TorchScript is deprecated in torch
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(nn.Conv2d(3, 3, 1).eval(), torch.zeros(1, 3, 8, 8)), str(tmp_path / "m.pt"))
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"format": "torchscript", "artefact": "m.pt", "classes": ["a", "b", "c"],
                                "preprocess": {"resize": {"policy": "fixed", "size": [16, 16]}}}))
    figures = bench(capsys, "--card", str(card))
    assert figures["model"] == f"card {card}" and figures["classes"] == 3
    assert figures["equal_pixels"] == {"handler": 1.0}


def test_the_text_report_has_a_row_per_path_and_a_column_per_batch(capsys):
    assert main(["bench", "inference", "--size", "32", "--images", "3", "--batches", "2", "--repeats", "1",
                 "--threads", "1", "--no-torchserve"]) == 0
    out = capsys.readouterr().out
    assert "torchserve path left out: --no-torchserve" in out
    rows = out[out.index("images/s of zoo:deeplabv3plus at 32 px on cpu (1 thread)"):].splitlines()
    assert rows[1].split() == ["batch", "2"]
    assert rows[2].split()[:2] == ["in", "process"] and rows[3].split()[0] == "handler"
    assert "pixels equal to in process's: handler 100.00%" in out


@pytest.mark.parametrize("args, message", [
    (["--batches", "0"], "whole numbers >= 1"),
    (["--batches", "a"], "separated by commas"),
    (["--images", "0"], "at least 1"),
    (["--kwargs", "[1]"], "JSON object"),
    (["--kwargs", "{"], "not JSON"),
    (["--model", "zoo:nope"], "no zoo architecture 'nope'"),
    (["--model", "nomodule"], "zoo:ARCH or MODULE:FUNCTION"),
    (["--model", "segmad.no_such_module:f"], "cannot import"),
    (["--model", "json:dumps", "--kwargs", '{"obj": 1}'], "not a torch module"),
    (["--card", "no-such-card.json"], "no such card"),
    (["--card", "no-such-card.json", "--model", "zoo:unet"], "leave --model and --kwargs out"),
])
def test_what_cannot_be_benchmarked_is_a_user_error(capsys, args, message):
    assert main(["bench", "inference", "--size", "32", "--no-torchserve", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_user_error(capsys):
    assert main(["bench", "inference", "--size", "32", "--device", "cuda", "--no-torchserve"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_batch_sizes_are_distinct_in_order():
    assert batch_sizes("16, 1,16") == [16, 1]
