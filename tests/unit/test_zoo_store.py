"""The zoo's checkpoint store: round trips, crash-safe writes, unreadable files."""

import numpy as np
import pytest
import torch

from segmad.errors import InputError
from segmad.models import build
from segmad.models.predict import predict
from segmad.zoo import ZOO_ROLES, checkpoint_path, list_checkpoints, load, save

pytestmark = pytest.mark.usefixtures("one_thread")


def meta_for(arch, **extra):
    return {"arch": arch, "num_classes": 2, "t0_miou": 0.5, "recipe": {"lr": 0.05}, **extra}


def test_save_then_load_gives_the_same_outputs_and_meta(tmp_path):
    torch.manual_seed(0)
    model = build("lraspp", num_classes=2)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    save(tmp_path / "lraspp.pt", model, meta_for("lraspp"))
    loaded, meta = load(tmp_path / "lraspp.pt")
    assert meta == meta_for("lraspp")
    assert not loaded.training
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
        assert torch.equal(model(x), loaded(x))
    assert np.array_equal(predict(model, images), predict(loaded, images))


def test_save_replaces_an_existing_checkpoint_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "unet.pt"
    save(path, build("unet", num_classes=2), meta_for("unet", t0_miou=0.1))
    save(path, build("unet", num_classes=2), meta_for("unet", t0_miou=0.9))
    assert load(path)[1]["t0_miou"] == 0.9
    assert [p.name for p in tmp_path.iterdir()] == ["unet.pt"]


def test_save_refuses_meta_that_is_not_plain_types(tmp_path):
    with pytest.raises(TypeError):
        save(tmp_path / "unet.pt", build("unet", num_classes=2), meta_for("unet", shape=object()))
    assert not list(tmp_path.iterdir())


def test_load_reports_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "unet.pt"
    path.write_bytes(b"half a file")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load(path)


def test_a_torchscript_file_is_refused_with_the_way_to_add_it_and_no_warning(tmp_path):
    import warnings

    import torch

    path = tmp_path / "deeplab.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's own
        torch.jit.save(torch.jit.trace(build("unet", num_classes=2).eval(), torch.zeros(1, 3, 32, 32)), str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "looks like a TorchScript archive" warning would fail here
        with pytest.raises(InputError, match="a TorchScript module, not a segmad zoo checkpoint: add it with a model card"):
            load(path)


def test_load_reports_a_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="no such checkpoint"):
        load(tmp_path / "fcn8s.pt")


def test_list_checkpoints_shows_the_stored_ones_in_zoo_order(tmp_path):
    for arch in ("unet", "deeplabv3plus"):
        save(checkpoint_path(tmp_path, arch), build(arch, num_classes=2), meta_for(arch))
    assert [m["arch"] for m in list_checkpoints(tmp_path)] == ["deeplabv3plus", "unet"]


def test_roles_name_one_target_and_five_competitors():
    assert [a for a, role in ZOO_ROLES.items() if role == "target"] == ["deeplabv3plus"]
    assert sorted(ZOO_ROLES.values()).count("competitor") == 5
