"""gunicorn settings for ``make run`` and the tests.

HOST, PORT, WEB_CONCURRENCY (workers), GUNICORN_THREADS and GUNICORN_ACCESS_LOG adjust them;
command-line flags override anything here.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 30
keepalive = 5
# Bounded request sizes: the app also caps bodies (IDP_MAX_BODY_BYTES).
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1") == "1" else None
# Never log query strings: callback URLs carry authorization codes and state.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
