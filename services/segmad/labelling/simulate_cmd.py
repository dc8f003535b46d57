"""`segmad annotators simulate`: the synthetic world's annotators work a campaign over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from segmad.errors import InputError


def add_simulate_arguments(sub) -> None:
    """The simulate subcommand's arguments."""
    from segmad.world import WorldConfig
    from segmad.world.annotators import AnnotatorConfig

    world, people = WorldConfig(), AnnotatorConfig()
    cmd = sub.add_parser("simulate", help="simulated annotators rate or paint a campaign through the HTTP API")
    cmd.add_argument("--url", required=True, help="the labelling service, e.g. http://127.0.0.1:8000")
    cmd.add_argument("--campaign", type=int, required=True, help="id of an open campaign")
    how = cmd.add_mutually_exclusive_group(required=True)
    how.add_argument("--tokens", type=Path, help='file of API tokens: JSON {"annotator-1": TOKEN, ...} or "NAME TOKEN" lines')
    how.add_argument("--password", help="one password of all the annotator-i accounts (test accounts)")
    cmd.add_argument("--world-seed", type=int, required=True, help="seed of the world the pool came from (the demo's --seed)")
    cmd.add_argument("--world-size", type=int, default=world.size, help="image side in pixels (default %(default)s)")
    cmd.add_argument("--num-classes", type=int, default=world.num_classes, help="classes C (default %(default)s)")
    cmd.add_argument("--annotators", type=int, default=people.count, help="annotator-1..k (default %(default)s)")
    cmd.add_argument("--annotator-seed", type=int, help="seed of the simulated people (default: the world seed, as in the demo)")
    cmd.add_argument("--rating-noise", type=float, default=people.rating_noise, help="std of rating noise (default %(default)s)")
    cmd.add_argument("--format", choices=["text", "json"], default="text")


def read_tokens(path: Path) -> dict[str, str]:
    """Annotator name -> token from a JSON object or from "NAME TOKEN" lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the tokens file ({error.strerror})", path) from None
    except UnicodeDecodeError:  # an image or other binary file given by mistake
        raise InputError("not a text file of tokens", path) from None
    if text.lstrip().startswith("{"):
        try:
            tokens = json.loads(text)
        except ValueError:
            raise InputError("not valid JSON", path) from None
    else:
        pairs = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if any(len(pair) != 2 for pair in pairs):
            raise InputError('each line is "NAME TOKEN"', path)
        tokens = dict(pairs)
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        raise InputError("map annotator names to token strings", path)
    return tokens


def run_simulate(args) -> int:
    """Run the simulation and print what the annotators did."""
    from segmad.labelling.simulate import Credential, simulate_campaign
    from segmad.world import WorldConfig
    from segmad.world.annotators import AnnotatorConfig
    from segmad.world.config import check_num_classes, check_size

    if args.annotators < 1:
        raise InputError("--annotators must be at least 1")
    try:
        check_num_classes(args.num_classes, "--num-classes")
        check_size(args.world_size, "--world-size")
        world = WorldConfig(num_classes=args.num_classes, size=args.world_size, seed=args.world_seed)
    except ValueError as error:
        raise InputError(str(error)) from None
    people = AnnotatorConfig(count=args.annotators, rating_noise=args.rating_noise,
                             seed=args.world_seed if args.annotator_seed is None else args.annotator_seed)
    if args.tokens is not None:
        credentials = {name: Credential(token=t) for name, t in read_tokens(args.tokens).items()}
    else:
        credentials = {f"annotator-{i + 1}": Credential(password=args.password) for i in range(args.annotators)}
    result = simulate_campaign(args.url, args.campaign, credentials, world, people)
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return 0
    work = "ratings" if result["kind"] == "weak" else "masks"
    print(f"campaign {result['campaign_id']} ({result['kind']}): {len(result['bookings'])} {work} by "
          f"{len(result['annotators'])} simulated annotators, {result['seconds'] / 3600:.2f} h booked, "
          f"{result['wall_seconds']:.1f} s wall")
    if result["kind"] == "dense":
        print(f"{len(result['reviews'])} masks reviewed and accepted")
    progress = result["progress"]
    print(f"progress: {progress['done']}/{progress['expected']}")
    return 0
