"""The OpenAPI file documents every JSON endpoint of the labelling app."""

import re
from pathlib import Path

from labelling_fixtures import app, store  # noqa: F401  (fixtures)

SPEC = Path(__file__).resolve().parents[2] / "services/segmad/labelling/openapi.yaml"


def test_every_api_route_is_in_the_openapi_file(app):
    documented = {re.sub(r"\{\w+\}", "{}", p) for p in re.findall(r"^  (/api/\S+):$", SPEC.read_text(), re.M)}
    routes = {re.sub(r"<[^>]+>", "{}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/")}
    assert routes - documented == set()
