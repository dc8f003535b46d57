"""The checked-in protobuf code is exactly what protoc makes from proto/ today."""

from segmad.proto import generate


def test_the_checked_in_code_matches_a_fresh_protoc_run(tmp_path):
    fresh = {p.name: p.read_bytes() for p in generate.generate(tmp_path)}
    checked_in = {p.name: p.read_bytes() for p in generate.OUT_DIR.glob("*_pb2.py*")}
    stale = sorted(name for name in fresh.keys() | checked_in.keys() if fresh.get(name) != checked_in.get(name))
    assert not stale, f"run `python -m segmad.proto.generate` and commit: {stale} differ"

