"""gunicorn settings for `make run`, the tests and production (docs/deploy.md).

HOST, PORT, WEB_CONCURRENCY (workers), GUNICORN_WORKER_CLASS, GUNICORN_THREADS and
GUNICORN_ACCESS_LOG adjust them; command-line flags override anything here.

Start it as `python -OO -m gunicorn -c gunicorn.conf.py wsgi:app`: -OO leaves the docstrings
and asserts of every loaded module out of each worker's memory (about 5 MB a worker, measured
in docs/performance.md). No setting in this file can do that for the interpreter it runs in.
"""

import multiprocessing
import os
import shutil
import sys
import tempfile

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Workers from the CPU count: the app is CPU-bound between short database round trips.
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
# sync by default: one request at a time per process, and each request goes to whichever worker
# is free. It is the faster class on the hot paths, in throughput and in tail latency
# (docs/performance.md): gthread's threads share one GIL per process, every request hops through
# its poller thread, and keep-alive connections stay on the worker that accepted them, however
# busy it is. A sync worker waits for a slow client, though, so it belongs behind something that
# reads requests in full before passing them on: the load balancer or the frontend's proxy of the
# reference topology (docs/deploy.md). Where browsers reach gunicorn directly (`make run`, the
# test servers), use gthread.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
# gunicorn turns sync into gthread when threads > 1: one thread unless gthread was asked for.
threads = int(os.environ.get("GUNICORN_THREADS", "4" if worker_class == "gthread" else "1"))
timeout = 30  # a worker stuck this long is killed and replaced
graceful_timeout = 30  # on SIGTERM / SIGHUP, in-flight requests get this long to finish
keepalive = 5
# Recycle workers now and then, so that a slow leak can never grow without bound.
max_requests = 20000
max_requests_jitter = 2000
# Bounded request sizes: the app also caps bodies (IDP_MAX_BODY_BYTES).
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1") == "1" else None
# Never log query strings: callback URLs carry authorization codes and state.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"

# Prometheus counters from every worker are summed through files in this directory.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idp-metrics-")


def when_ready(server: object) -> None:
    if sys.flags.optimize < 2:
        server.log.warning(  # type: ignore[attr-defined]
            "Python runs without -OO: each worker holds about 5 MB of docstrings and asserts "
            "it never uses; start with `python -OO -m gunicorn` (docs/deploy.md)"
        )


def on_exit(server: object) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker: object) -> None:
    """Put what the app built at start-up (about 107,000 objects: modules, mappers, routes) out
    of the garbage collector's reach. A full collection then walks only what requests left
    behind: measured here, 58-65 ms per collection before, under 1 ms after."""
    import gc

    gc.collect()  # whatever start-up left for collection goes now, not into the frozen set
    gc.freeze()


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
