"""Ingestion limits from SEGMAD_INGEST_*: a bad value is named by the variable that set it."""

import pytest

from segmad.ingestion.limits import Limits, limits_from_env


def test_the_environment_overrides_the_defaults():
    assert limits_from_env({"SEGMAD_INGEST_MIN_SIDE": "8"}) == Limits(min_side=8)


@pytest.mark.parametrize(("environ", "message"), [
    ({"SEGMAD_INGEST_MIN_SIDE": "100", "SEGMAD_INGEST_MAX_SIDE": "50"},
     "SEGMAD_INGEST_MIN_SIDE must not exceed SEGMAD_INGEST_MAX_SIDE (100 > 50)"),
    ({"SEGMAD_INGEST_MAX_PIXELS": "-1"}, "SEGMAD_INGEST_MAX_PIXELS must be at least 1, got -1"),
    ({"SEGMAD_INGEST_MAX_BYTES": "1e6"}, "SEGMAD_INGEST_MAX_BYTES must be an integer, got '1e6'"),
])
def test_a_bad_value_in_the_environment_names_its_variable(environ, message):
    with pytest.raises(ValueError) as bad:
        limits_from_env(environ)
    assert str(bad.value) == message
