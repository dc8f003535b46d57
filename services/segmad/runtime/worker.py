"""Running a bus worker as a service: consumer threads, /healthz and /metrics, JSON logs, stop on SIGTERM."""

from __future__ import annotations

import json
import logging
import logging.config
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Engine, event

from segmad import bootstrap, settings
from segmad.runtime.consumer import run_batches
from segmad.runtime.logs import logging_config
from segmad.runtime.retries import RetryPolicy
from segmad.ports import Ports


class WorkerMetrics:
    """Events handled, dead letters and seconds per poll of one worker."""

    def __init__(self, name: str):
        self.registry = CollectorRegistry()
        self.events = Counter(f"segmad_{name}_events", "Events handled", registry=self.registry)
        self.dead_letters = Counter(f"segmad_{name}_dead_letters", "Messages dead-lettered", registry=self.registry)
        self.poll_seconds = Histogram(f"segmad_{name}_poll_seconds", "Seconds to handle one poll",
                                      registry=self.registry)
        self.db_writes = Counter(f"segmad_{name}_db_writes", "INSERT, UPDATE and DELETE statements sent to the catalog",
                                 registry=self.registry)
        self.last_db_write = Gauge(f"segmad_{name}_last_db_write_seconds", "Unix time of the last catalog write",
                                   registry=self.registry)


_WRITES = ("INSERT", "UPDATE", "DELETE")


def count_writes(engine: Engine, metrics: WorkerMetrics) -> None:
    """Count every write statement the catalog's engine sends (an executemany counts once)."""
    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:6].upper() in _WRITES:
            metrics.db_writes.inc()
            metrics.last_db_write.set_to_current_time()

    event.listen(engine, "before_cursor_execute", before_cursor_execute)


def _http_handler(metrics: WorkerMetrics, alive: Callable[[], bool]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz":
                ok = alive()
                self._send(200 if ok else 503, json.dumps({"status": "ok" if ok else "stopped"}).encode(),
                           "application/json")
            elif self.path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # probes every few seconds would flood the log
            pass

    return Handler


def consume(ports: Ports, topics, group: str, parse, handler, metrics: WorkerMetrics, stop: threading.Event,
            failures: list, max_handle_s: float | None = None, retry: RetryPolicy | None = None) -> None:
    """One member of the group, until `stop`: handler errors retried and their culprits dead-lettered (run_batches);
    an error that still stops the loop (the bus's, an outage's) is noted in `failures` and stops the worker."""
    def timed_handle(batch):
        started = time.perf_counter()
        handler.handle(batch)
        metrics.poll_seconds.observe(time.perf_counter() - started)
        metrics.events.inc(len(batch))

    try:
        run_batches(ports.bus.subscribe(topics, group, max_handle_s), parse, timed_handle, ports.bus, stop,
                    retry=retry or RetryPolicy(), on_dead_letter=lambda letter: metrics.dead_letters.inc())
    except Exception as error:
        # Uncommitted work is redelivered after a restart; exiting non-zero asks for that restart.
        logging.getLogger(f"segmad.{group}").exception("consumer failed")
        failures.append(error)
        stop.set()


def serve_worker(name: str, topics, parse, make_handler: Callable[[Ports], object], host: str, port: int,
                 members: int = 1, metrics: WorkerMetrics | None = None, max_handle_s: float | None = None) -> int:
    """Consume `topics` as group `name` with `members` threads until SIGTERM; health and metrics on host:port.

    `metrics` lets a worker add its own gauges to the registry served; `max_handle_s` bounds one poll's
    handling for the bus (see EventBus.subscribe).
    """
    logging.config.dictConfig(logging_config())
    log = logging.getLogger(f"segmad.{name}")
    config = settings.load()
    retry = RetryPolicy.from_settings(config)
    ports, stop, failures = bootstrap.build(config), threading.Event(), []
    metrics = metrics or WorkerMetrics(name)
    count_writes(ports.catalog.engine, metrics)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threads = [threading.Thread(target=consume, name=f"{name}-{i}", daemon=True,
                                args=(ports, topics, name, parse, make_handler(ports), metrics, stop, failures,
                                      max_handle_s, retry))
               for i in range(members)]
    server = ThreadingHTTPServer((host, port), _http_handler(metrics, lambda: all(t.is_alive() for t in threads)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("started", extra={"topics": list(topics), "members": members, "port": server.server_port})
    try:
        for t in threads:
            t.start()
        while not stop.wait(0.5):  # a timed wait keeps the main thread free to run the signal handler
            pass
        for t in threads:
            t.join()
    finally:
        server.shutdown()
        ports.close()
    log.info("stopped", extra={"failed": len(failures)})
    return 1 if failures else 0
