"""The rounds controller's state machine: mining → weak-rating → dense-labelling → training, in order only."""


import numpy as np
import pytest

from segmad import events
from segmad.ports.bus import ROUNDS
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.rounds import control
from segmad.pipeline.keys import label_key
from segmad.catalog.states import DENSE_LABELLING, MINING, TRAINING, WEAK_RATING
from segmad.world import sample
from round_world import (POOL, WORLD, add_people, ingest, items, make_ports, paint, rate, run_discrepancy,
                         run_inference, start_round)

@pytest.fixture
def ports(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:12])
    start_round(ports, tmp_path)
    run_inference(ports)
    run_discrepancy(ports)
    add_people(ports)
    yield ports
    ports.close()


def rate_all(ports, campaign_id, score_of):
    rate(ports, campaign_id, lambda name, i, image_id: score_of(image_id))


def round_events(ports):
    consumer = ports.bus.subscribe([ROUNDS], "test-observer")
    return [events.from_bytes(events.RoundEvent, m.value) for m in consumer.poll(1000, 0.1)]


def test_a_round_walks_mining_rating_labelling_training_in_order(ports):
    M, weak = control.close_mining(ports, 1)
    assert ports.catalog.round(1).state == WEAK_RATING and M == control.candidates(ports, 1)["images"]
    assert sorted(i.image_id for i in items(ports, weak)) == sorted(M)
    # The target's failures (every 3rd pool image) get the worst ratings.
    rate_all(ports, weak, lambda image_id: 1 if int(image_id[-6:]) % 3 == 0 else 5)
    result = control.select(ports, 1)
    S, T = ports.catalog.round_images(1, "counterexamples"), ports.catalog.round_images(1, "test")
    assert ports.catalog.round(1).state == DENSE_LABELLING and result["dense_campaign"] != weak
    failing = {x for x in M if int(x[-6:]) % 3 == 0}
    assert failing and failing <= set(S) and len(S) == 4 and not set(S) & set(T)
    assert sorted(i.image_id for i in items(ports, result["dense_campaign"])) == sorted(set(S) | set(T))
    paint(ports, result["dense_campaign"])
    assert control.finetune(ports, 1)["labels"] == len(set(S) | set(T))
    assert ports.catalog.round(1).state == TRAINING
    for image_id in S + T:  # the accepted masks, as label maps every stage reads
        assert np.array_equal(decode_png(ports.blobs.get(label_key(1, image_id))),
                              sample(WORLD, "pool", int(image_id[-6:])).mask)
    assert [e.state for e in round_events(ports)] == [MINING, WEAK_RATING, DENSE_LABELLING, TRAINING]
    status = control.status(ports, 1)
    assert status["weak_campaign"].endswith("closed, 16/16 done") or "closed" in status["weak_campaign"]
    assert "closed" in status["dense_campaign"] and status["counterexamples"] == len(S)


@pytest.mark.parametrize("step, says", [
    (lambda p: control.select(p, 1), "`segmad round close-mining 1`"),
    (lambda p: control.finetune(p, 1), "`segmad round close-mining 1`"),
])
def test_a_step_out_of_order_is_refused_saying_what_comes_first(ports, step, says):
    with pytest.raises(InputError, match=says):
        step(ports)
    assert ports.catalog.round(1).state == MINING


def test_select_waits_for_every_rating_unless_forced(ports):
    _, weak = control.close_mining(ports, 1)
    with pytest.raises(InputError, match=r"needs dense-labelling: the weak-rating campaign must be rated"):
        control.finetune(ports, 1)
    with pytest.raises(InputError, match=r"has 0 of \d+ ratings"):
        control.select(ports, 1)
    with pytest.raises(InputError, match="already past mining"):
        control.close_mining(ports, 1)


def test_finetune_waits_for_every_accepted_mask(ports):
    _, weak = control.close_mining(ports, 1)
    rate_all(ports, weak, lambda image_id: 2)
    control.select(ports, 1)
    with pytest.raises(InputError, match="no accepted mask yet"):
        control.finetune(ports, 1)
    assert ports.catalog.round(1).state == DENSE_LABELLING


def test_a_measuring_round_labels_only_t(ports):
    _, weak = control.close_mining(ports, 1)
    rate_all(ports, weak, lambda image_id: 1 if int(image_id[-6:]) % 3 == 0 else 5)
    result = control.select(ports, 1, measure_only=True)
    assert sorted(i.image_id for i in items(ports, result["dense_campaign"])) == ports.catalog.round_images(1, "test")


def test_close_mining_is_refused_while_predictions_are_missing(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])
    start_round(ports, tmp_path)
    with pytest.raises(InputError, match="not complete: images without a prediction"):
        control.close_mining(ports, 1)
    ports.close()


def test_the_next_round_waits_for_the_last_to_be_done(ports, tmp_path):
    with pytest.raises(InputError, match="round 1 is not done"):
        start_round(ports, tmp_path, round_=2)


def test_closing_mining_without_accounts_says_how_to_make_them(tmp_path):
    ports = make_ports(tmp_path)
    ingest(ports, POOL[:6])
    start_round(ports, tmp_path)
    run_inference(ports)
    run_discrepancy(ports)
    with pytest.raises(InputError, match="segmad annotators add"):
        control.close_mining(ports, 1)
    assert ports.catalog.round(1).state == MINING
    ports.close()


def test_a_round_whose_ratings_leave_nothing_to_label_opens_no_dense_campaign_and_goes_on(ports):
    _, weak = control.close_mining(ports, 1)
    rate_all(ports, weak, lambda image_id: "ood")  # every candidate vetoed as out of domain
    result = control.select(ports, 1)
    assert result["dense_campaign"] is None and result["counterexamples"] == result["test"] == 0
    assert ports.catalog.round(1).state == DENSE_LABELLING
    assert control.finetune(ports, 1)["labels"] == 0
    assert ports.catalog.round(1).state == TRAINING
