"""Simulated annotators at work on a campaign through the labelling service's HTTP API.

Each simulated person (account "annotator-i") has its own HTTP session, as a browser would (or,
in one process, a session on the app's own views without a socket: `InProcessSession`): it asks
the API for its next item, looks at what the API serves, answers as the synthetic world's
SimulatedAnnotators (who know the truth) and books their simulated seconds as its time on the item.
On the same images this gives what the embedded demo's weak_label and dense_label give: the same
rating per (image, annotator) and the true masks, painted by annotator n % k of the sorted images
when the dense campaign lists its items sorted and its annotators as annotator-1..k.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import requests

from segmad.errors import InputError
from segmad.labelling.palette import encode_palette_png
from segmad.mad import discrepancy
from segmad.mad.weak import OUT_OF_DOMAIN
from segmad.world import WorldConfig, sample
from segmad.world.annotators import AnnotatorConfig, SimulatedAnnotators

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_POOL_ID = re.compile(r"^pool-(\d+)$")


@dataclass(frozen=True)
class Credential:
    """How one account signs in: an API bearer token, or a password (login form and session cookie)."""

    token: str = ""
    password: str = ""


class _Reply:
    """A test-client response seen through the part of `requests.Response` the client reads."""

    def __init__(self, response):
        self.status_code, self.reason, self.headers = response.status_code, response.status[4:], response.headers
        self.content, self.url = response.get_data(), response.request.url

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self):
        return json.loads(self.content)


class InProcessSession:
    """A requests-like session on a Flask app's test client: the labelling service's own views, in process."""

    def __init__(self, app):
        self.client, self.headers = app.test_client(), {}

    def request(self, method: str, url: str, timeout: float | None = None, params=None, json=None, data=None,
                headers=None) -> _Reply:
        return _Reply(self.client.open(url, method=method, query_string=params, json=json, data=data,
                                       headers={**self.headers, **(headers or {})}, follow_redirects=True))

    def post(self, url: str, timeout: float | None = None, data=None) -> _Reply:
        return self.request("POST", url, data=data)


class Client:
    """One annotator's HTTP session with the labelling service; refusals raise InputError."""

    def __init__(self, base_url: str, name: str, credential: Credential, timeout: float = 60.0, app=None):
        self.base, self.name, self.timeout = base_url.rstrip("/"), name, timeout
        self.http = InProcessSession(app) if app is not None else requests.Session()
        if credential.token:
            self.http.headers["Authorization"] = f"Bearer {credential.token}"
        elif credential.password:
            self._login(credential.password)
        else:
            raise InputError(f"no token or password for {name}")

    def _login(self, password: str) -> None:
        form = self.call("GET", "/login")
        home = self.http.post(self.base + "/login", timeout=self.timeout, data={
            "name": self.name, "password": password, "csrf_token": _csrf(form.text)})
        if home.status_code != 200 or home.url.split("?")[0].endswith("/login"):
            raise InputError(f"{self.name} could not sign in at {self.base}: wrong name or password")
        # Signing in starts a new session with a new CSRF token; the page it lands on carries it.
        self.http.headers["X-CSRF-Token"] = _csrf(home.text)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """The service's answer to one request; InputError with its message when it refuses."""
        try:
            reply = self.http.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise InputError(f"{self.name}: cannot reach the labelling service at {self.base} ({error})") from None
        if reply.status_code >= 400:
            try:
                message = reply.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = reply.reason
            raise InputError(f"{self.name}: {method} {path} answered {reply.status_code}: {message}")
        return reply

    def label_map(self, path: str, **params) -> np.ndarray:
        """A label map the API serves as raw H·W bytes."""
        reply = self.call("GET", path, params=params)
        shape = int(reply.headers["X-Height"]), int(reply.headers["X-Width"])
        return np.frombuffer(reply.content, np.uint8).reshape(shape)


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    if found is None:
        raise InputError("the labelling service's page carries no CSRF token")
    return found.group(1)


def world_truth(world: WorldConfig) -> Callable[[str], tuple[np.ndarray, bool]]:
    """(true mask, in-domain) of a pool image id "pool-NNNNNN", regenerated from the world once."""
    @functools.lru_cache(maxsize=None)
    def truth(image_id: str) -> tuple[np.ndarray, bool]:
        found = _POOL_ID.match(image_id)
        if found is None:
            raise InputError(f"{image_id!r} is not an image of the synthetic world's pool")
        index = int(found.group(1))
        one = sample(dataclasses.replace(world, pool_size=max(world.pool_size, index + 1)), "pool", index)
        return one.mask, one.in_domain
    return truth


def _booking(kind: str, booking) -> dict:
    return {"kind": kind, "annotator": booking.annotator, "image_id": booking.image_id, "seconds": booking.seconds}


def _rate_queue(client: Client, index: int, campaign_id: int, people: SimulatedAnnotators, truth) -> list[dict]:
    """Rate every item of the annotator's queue, in the order the API gives them."""
    done, bookings = set(), []
    while items := client.call("GET", f"/api/campaigns/{campaign_id}/next").json()["items"]:
        item = items[0]
        if item["id"] in done:
            raise InputError(f"the service offered item {item['id']} to {client.name} again after it was rated")
        base = f"/api/campaigns/{campaign_id}/items/{item['id']}"
        prediction = client.label_map(base + "/labels")
        mask, in_domain = truth(item["image_id"])
        _check_shape(prediction, mask, item["image_id"])
        value, booking = people.rate(index, item["image_id"], 1.0 - discrepancy(prediction, mask), in_domain)
        vote = "ood" if value == OUT_OF_DOMAIN else int(value)
        client.call("PUT", base + "/rating", json={"rating": vote, "seconds": booking.seconds})
        done.add(item["id"])
        bookings.append(_booking("rating", booking) | {"rating": vote})
    return bookings


def _paint_queue(client: Client, index: int, campaign_id: int, people: SimulatedAnnotators, truth) -> list[dict]:
    """Paint every item assigned to the annotator and upload each mask as a PNG with its seconds."""
    bookings = []
    for entry in client.call("GET", f"/api/campaigns/{campaign_id}/queue").json()["paint"]:
        mask, booking = people.paint(index, entry["image_id"], truth(entry["image_id"])[0])
        client.call("PUT", f"/api/campaigns/{campaign_id}/items/{entry['item_id']}/mask",
                    params={"seconds": repr(booking.seconds)}, data=encode_palette_png(mask),
                    headers={"Content-Type": "image/png"})
        bookings.append(_booking("mask", booking))
    return bookings


def _review_queue(client: Client, painter: str, campaign_id: int) -> list[dict]:
    """Look at each mask `painter` submitted and accept it (the paper's cross-check)."""
    reviews = []
    for entry in client.call("GET", f"/api/campaigns/{campaign_id}/queue").json()["review"]:
        if entry["painter"] != painter:
            continue
        client.label_map(f"/api/campaigns/{campaign_id}/items/{entry['item_id']}/labels", mask=1)
        status = client.call("POST", f"/api/campaigns/{campaign_id}/masks/{entry['mask_id']}/review",
                             json={"decision": "accept", "comment": ""}).json()["status"]
        reviews.append({"image_id": entry["image_id"], "painter": painter, "reviewer": client.name,
                        "status": status})
    return reviews


def _check_shape(seen: np.ndarray, truth: np.ndarray, image_id: str) -> None:
    if seen.shape != truth.shape:
        raise InputError(f"{image_id}: the service's label map is {seen.shape[1]}x{seen.shape[0]} pixels but the "
                         f"world's image is {truth.shape[1]}x{truth.shape[0]}; is the world size right?")


def _each(clients: list[Client], work: Callable[[int, Client], list]) -> list:
    """Run work(index, client) for every annotator at once (one thread each); their results joined."""
    with ThreadPoolExecutor(max_workers=len(clients), thread_name_prefix="annotator") as pool:
        futures = [pool.submit(work, index, client) for index, client in enumerate(clients)]
        return [row for future in futures for row in future.result()]


def simulate_campaign(base_url: str, campaign_id: int, credentials: Mapping[str, Credential | str],
                      world_config: WorldConfig, annotator_config: AnnotatorConfig = AnnotatorConfig(),
                      app=None) -> dict:
    """Let annotator-1..k work through an open campaign over HTTP; what they did, as JSON-ready data.

    credentials: account name -> Credential (a plain string is a bearer token).
    world_config: the world the pool came from (the demo's wild world: the zoo's world with the run's seed).
    app: the labelling Flask app to call in process instead of the service at `base_url`.
    """
    people = SimulatedAnnotators(annotator_config)
    missing = [name for name in people.names if name not in credentials]
    if missing:
        raise InputError(f"no credentials for {', '.join(missing)}")
    started = time.perf_counter()
    clients = [Client(base_url, name, c if isinstance(c, Credential) else Credential(token=c), app=app)
               for name, c in ((name, credentials[name]) for name in people.names)]
    campaign = clients[0].call("GET", f"/api/campaigns/{campaign_id}").json()
    if campaign["status"] != "open":
        raise InputError(f"campaign {campaign_id} is closed")
    truth = world_truth(world_config)
    result = {"campaign_id": campaign_id, "kind": campaign["kind"], "annotators": people.names}
    if campaign["kind"] == "weak":
        bookings = _each(clients, lambda i, c: _rate_queue(c, i, campaign_id, people, truth))
        result["votes"] = {}
        for b in sorted(bookings, key=lambda b: (b["image_id"], b["annotator"])):
            result["votes"].setdefault(b["image_id"], {})[b["annotator"]] = b.pop("rating")
    else:
        if len(clients) < 2:
            raise InputError("a dense campaign needs two simulated annotators: a mask is reviewed by another one")
        bookings = _each(clients, lambda i, c: _paint_queue(c, i, campaign_id, people, truth))
        # Each annotator cross-checks the masks of the one before it, once all masks are in.
        result["reviews"] = _each(clients, lambda i, c: _review_queue(c, people.names[i - 1], campaign_id))
    result["bookings"] = sorted(bookings, key=lambda b: (b["image_id"], b["annotator"]))
    result["seconds"] = sum(b["seconds"] for b in bookings)
    result["progress"] = clients[0].call("GET", f"/api/campaigns/{campaign_id}").json()
    result["wall_seconds"] = time.perf_counter() - started
    return result
