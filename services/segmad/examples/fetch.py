"""Everything the worked example needs, from the package registries into a cache (var/, never git).

Models: the mediapipe 0.10.21 wheel (PyPI; downloaded, never installed) holds the two selfie
segmenters; npm's @mediapipe/pose@0.5.1675469404 the three pose landmarkers (their third output
tensor, `Identity_2`, is a segmentation logit map); npm's @imgly/background-removal-data@1.4.5
ISNet, cut into content-addressed 4 MiB chunks that `dist/resources.json` lists with their byte
offsets (`/models/medium`: float32). Photographs: the scikit-image 0.26.0 wheel's data, the
opencv-doc package's sample photographs and plasma-workspace-wallpapers' photographs (Debian,
`apt-get download`, unpacked with `dpkg -x`). Each step is skipped when its output is in the cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from segmad.errors import InputError
from segmad.examples.photos import PHOTOS, WALLPAPERS

MEDIAPIPE = "mediapipe==0.10.21"
POSE = "@mediapipe/pose@0.5.1675469404"
ISNET = "@imgly/background-removal-data@1.4.5"
SKIMAGE = "scikit-image==0.26.0"
DEBS = ("opencv-doc", "plasma-workspace-wallpapers")
SELFIE = {"selfie": "selfie_segmentation.tflite", "selfie_landscape": "selfie_segmentation_landscape.tflite"}
POSES = {"pose_lite": "pose_landmark_lite.tflite", "pose_full": "pose_landmark_full.tflite",
         "pose_heavy": "pose_landmark_heavy.tflite"}


def _run(command: list[str], cwd: Path) -> None:
    """Run a registry client; its failure as one line naming the command."""
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        raise InputError(f"`{command[0]}` is not installed; it is needed to fetch the example's files")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"`{' '.join(command)}` failed (exit {done.returncode}): {last[0][:300]}")


def _one(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


def pip_download(requirement: str, folder: Path) -> Path:
    """The wheel of `requirement` for this Python, downloaded once (no dependencies, not installed)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = requirement.split("==")[0].replace("-", "_")
    wheel = _one(folder, f"{stem}-{requirement.split('==')[1]}-*.whl")
    if wheel is None:
        _run([sys.executable, "-m", "pip", "download", requirement, "--no-deps", "--only-binary=:all:", "-d",
              str(folder)], folder)
        wheel = _one(folder, f"{stem}-*.whl")
    if wheel is None:
        raise InputError(f"pip download {requirement} left no wheel in {folder}")
    return wheel


def npm_pack(spec: str, folder: Path) -> Path:
    """The npm package `spec` unpacked under folder/<name>/package (tarball kept), fetched once."""
    name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    unpacked = folder / name
    if not (unpacked / "package" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        if _one(folder, f"{name}-*.tgz") is None:
            _run(["npm", "pack", spec, "--silent"], folder)
        tarball = _one(folder, f"{name}-*.tgz")
        if tarball is None:
            raise InputError(f"npm pack {spec} left no tarball in {folder}")
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
    return unpacked / "package"


def apt_unpack(package: str, folder: Path) -> Path:
    """The Debian package unpacked (dpkg -x) under folder/<package>, downloaded once."""
    unpacked = folder / package
    if not unpacked.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        if _one(folder, f"{package}_*.deb") is None:
            _run(["apt-get", "download", package], folder)
        deb = _one(folder, f"{package}_*.deb")
        if deb is None:
            raise InputError(f"apt-get download {package} left no .deb in {folder}")
        _run(["dpkg", "-x", str(deb), str(unpacked)], folder)
    return unpacked


def reassemble(dist: Path, resource: str, out: Path) -> Path:
    """A file of @imgly/background-removal-data from its chunks, each checked against its sha256 name."""
    if out.is_file():
        return out
    entry = json.loads((dist / "resources.json").read_text())[resource]
    data = bytearray()
    for chunk in entry["chunks"]:
        part = (dist / chunk["hash"]).read_bytes()
        if hashlib.sha256(part).hexdigest() != chunk["hash"] or chunk["offsets"][0] != len(data):
            raise InputError(f"{resource}: chunk {chunk['hash'][:12]}… is damaged; delete the cache and fetch again")
        data += part
    if len(data) != entry["size"]:
        raise InputError(f"{resource}: {len(data)} bytes reassembled, resources.json says {entry['size']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    tmp.write_bytes(bytes(data))
    tmp.replace(out)
    return out


def fetch_models(cache: Path, isnet: bool = True) -> dict[str, Path]:
    """{model name: its .tflite or .onnx file in cache/models}, fetched when missing."""
    cache = Path(cache).resolve()  # the registry clients run inside its folders
    models = cache / "models"
    models.mkdir(parents=True, exist_ok=True)
    paths = {name: models / file for name, file in {**SELFIE, **POSES}.items()}
    if not all(paths[name].is_file() for name in SELFIE):
        with zipfile.ZipFile(pip_download(MEDIAPIPE, cache / "wheels")) as wheel:
            for name, file in SELFIE.items():
                paths[name].write_bytes(wheel.read(f"mediapipe/modules/selfie_segmentation/{file}"))
    if not all(paths[name].is_file() for name in POSES):
        package = npm_pack(POSE, cache / "npm")
        for name, file in POSES.items():
            shutil.copyfile(package / file, paths[name])
    if isnet:
        paths["isnet"] = models / "isnet.onnx"
        if not paths["isnet"].is_file():
            reassemble(npm_pack(ISNET, cache / "npm") / "dist", "/models/medium", paths["isnet"])
    return paths


def photo_names() -> list[str]:
    """The file names fetch_photos gives the photographs, sorted."""
    names = [f"{_prefix(source)}-{Path(file).name}" for source, files in PHOTOS.items() for file in files]
    return sorted(names + [f"wallpaper-{name}.jpg" for name in WALLPAPERS])


def _prefix(source: str) -> str:
    return "skimage" if source == "skimage" else "opencv-" + source.rsplit("/", 1)[-1]


def fetch_photos(cache: Path) -> Path:
    """The folder cache/photos with every photograph of photos.PHOTOS and WALLPAPERS, fetched when missing."""
    cache = Path(cache).resolve()
    out = cache / "photos"
    done = out / ".complete"  # the names it holds: a changed list of photos fetches again
    if done.is_file() and done.read_text().split() == photo_names():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    roots = {deb: apt_unpack(deb, cache / "deb") for deb in DEBS}
    with zipfile.ZipFile(pip_download(SKIMAGE, cache / "wheels")) as wheel:
        for source, files in PHOTOS.items():
            for file in files:
                target = out / f"{_prefix(source)}-{Path(file).name}"
                if source == "skimage":
                    target.write_bytes(wheel.read(f"skimage/data/{file}"))
                else:
                    package, _, under = source.partition("/")
                    shutil.copyfile(roots[package] / under / file, target)
    wallpapers = roots["plasma-workspace-wallpapers"] / "usr/share/wallpapers"
    for name in WALLPAPERS:  # the other "sizes" in a wallpaper's folder are links to its one real file
        real = [p for p in sorted((wallpapers / name / "contents/images").iterdir())
                if not p.is_symlink() and p.suffix == ".jpg"]
        shutil.copyfile(min(real, key=lambda p: p.stat().st_size), out / f"wallpaper-{name}.jpg")
    done.write_text("\n".join(photo_names()) + "\n")
    return out
