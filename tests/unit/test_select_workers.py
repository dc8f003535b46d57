"""`segmad select --workers K`: K processes share the images, the caller among them; results and errors in order."""

import os
import platform
import resource
import time

import pytest

from segmad.bench.select_end_to_end import generate_pool
from segmad.errors import InputError
from segmad.offline.layout import discover
from segmad.offline.scan import ordered_map, score_image, worker_pool


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


def page_faults_per_image(tasks: list) -> float:
    score_image(tasks[0])  # the first image may grow the heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for task in tasks[1:]:
        score_image(task)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (len(tasks) - 1)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap thresholds are glibc's")
def test_a_helper_reuses_its_memory_from_image_to_image(tmp_path):
    # without keep_freed_memory a fresh helper gave its heap top back after every image and faulted
    # it in again: ~360 page faults per image of 4 maps of 513 px here, against ~10 with it
    generate_pool(tmp_path, images=25, size=513, labels=21, models=4, masks=1, seed=0, workers=1)
    tasks = list(discover(tmp_path / "pred", "target").tasks(20))
    with worker_pool(2) as pool:
        faults = pool.submit(page_faults_per_image, tasks).result()
    assert faults < 60
