"""gunicorn settings that `smmpanel serve` (and bench/api.py's bare handler, like for like) load with
``--config python:smmpanel.gunicorn_conf``: taking turns between client connections under gevent.

A gevent worker serves each connection on a greenlet, and a greenlet runs
until it waits for I/O. A keep-alive client that sends its next request as
soon as the answer arrives often has it there before the greenlet asks, so
the read does not wait, and on SQLite (whose reads never wait for I/O
either) the greenlet serves that client again and again while the other
connections' requests sit in the queue: `balance` had a p50 of 0.3 ms and a
p99 of 0.3–1.4 s on an idle machine. After each request the greenlet now
yields once, so that every connection with a request ready gets its turn.
"""

import sys


def post_request(worker, req, environ, resp):
    if "gevent" in sys.modules and type(worker).__module__.startswith("gunicorn.workers.ggevent"):
        import gevent

        gevent.sleep(0)  # to the back of the line of greenlets that are ready to run
