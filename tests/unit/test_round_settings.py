"""A round's settings: typed in the code, JSON in the catalog, readable from rows written before a field existed."""

import numpy as np

from segmad.catalog.records import Campaigns, RoundSettings
from segmad.mad import SizeBounds


def test_settings_survive_their_json_form():
    settings = RoundSettings(bounds=SizeBounds(np.array([0.0, 0.1]), np.array([1.0, 0.5])), num_classes=1,
                             competitors=(("unet", "v0"),), class_names=("cat",), campaigns=Campaigns(3, 4),
                             measure_only=True, out_of_domain=("img-2",), mos={"img-1": 1.5, "img-2": None})
    assert RoundSettings.from_dict(settings.to_dict()) == settings


def test_a_row_written_before_a_field_existed_reads_with_its_default():
    settings = RoundSettings.from_dict({"num_classes": 3, "campaigns": {"weak": 5}})
    assert settings == RoundSettings(num_classes=3, campaigns=Campaigns(weak=5))
    assert (settings.bounds, settings.mos, settings.out_of_domain, settings.measure_only) == (None, None, (), False)


def test_settings_differing_only_in_their_bounds_differ():
    bounds = [SizeBounds(np.zeros(2), np.ones(2)), SizeBounds(np.zeros(2), np.full(2, 0.5))]
    assert RoundSettings(bounds=bounds[0]) != RoundSettings(bounds=bounds[1])
