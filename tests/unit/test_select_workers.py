"""`segmad select --workers K`: K processes share the images, the caller among them; results and errors in order."""

import os
import time

import pytest

from segmad.errors import InputError
from segmad.offline.scan import ordered_map, worker_pool


def pid_of(item: int) -> tuple[int, int]:
    time.sleep(0.002)  # long enough that the caller finds the helpers' results not back yet
    return item, os.getpid()


def fail_on_seven(item: int) -> int:
    if item == 7:
        raise InputError(f"bad item {item}")
    return item


def test_one_worker_runs_everything_in_this_process():
    with worker_pool(1) as pool:
        assert pool is None
        assert [pid for _, pid in ordered_map(pid_of, range(5), pool)] == [os.getpid()] * 5


def test_two_workers_are_this_process_and_one_helper_with_results_in_order():
    with worker_pool(2) as pool:
        results = list(ordered_map(pid_of, range(60), pool))
    assert [item for item, _ in results] == list(range(60))
    pids = {pid for _, pid in results}
    # the first items go to the helper before the caller takes any; while the helper starts, the caller works
    assert os.getpid() in pids and len(pids) == 2


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_an_error_comes_out_for_its_item_whoever_computed_it(workers):
    seen = []
    with worker_pool(workers) as pool, pytest.raises(InputError, match="bad item 7"):
        for item in ordered_map(fail_on_seven, range(40), pool):
            seen.append(item)
    assert seen == list(range(7))


def test_an_error_in_a_helper_process_reaches_the_caller():
    with worker_pool(2) as pool, pytest.raises(InputError, match="bad item 7"):
        list(ordered_map(fail_on_seven, [7, 1, 2], pool))  # the first item always goes to the helper


@pytest.mark.parametrize("chunk", [1, 5])
def test_items_travel_in_tasks_of_chunk_items(chunk):
    with worker_pool(2) as pool:
        results = list(ordered_map(pid_of, range(60), pool, chunk=chunk))
    assert [item for item, _ in results] == list(range(60))
    tasks = [{pid for _, pid in results[start:start + chunk]} for start in range(0, 60, chunk)]
    assert all(len(pids) == 1 for pids in tasks)  # each task's items were all computed by one process
    assert len({pid for _, pid in results}) == 2


@pytest.mark.parametrize("chunk", [3, 16])
def test_an_error_inside_a_task_keeps_the_results_before_it(chunk):
    seen = []
    with worker_pool(2) as pool, pytest.raises(InputError, match="bad item 7"):
        for item in ordered_map(fail_on_seven, range(40), pool, chunk=chunk):
            seen.append(item)
    assert seen == list(range(7))
