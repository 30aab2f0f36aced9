"""Database outage: requests answer 503 with a clear JSON body (not 500), and recover on their own.

The outage is real: the service reaches PostgreSQL through a TCP relay in this test, which is cut and
restored (stopping the shared PostgreSQL server itself would disturb other tests on this machine).
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from apikit import api_settings, free_port, make_world

from api.main import create_app


class Relay:
    """TCP relay 127.0.0.1:<port> -> 127.0.0.1:5432 that can be cut (all connections dropped) and restored."""

    def __init__(self, port: int, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.port, self.target = port, target
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self.listener:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self.listener.close()
            self.listener = None
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.sockets.clear()


def test_database_down_answers_503_and_recovers(database_kind, database_url):
    if database_kind != "postgresql":
        pytest.skip("needs a database behind a network connection to cut")
    from fastapi.testclient import TestClient

    relay = Relay(free_port())
    relay.start()
    url = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{relay.port}/")
    assert url != database_url
    app = create_app(api_settings(url))
    try:
        with TestClient(app) as client:
            world = make_world(app)
            assert client.get("/api/v1/cases", headers=world.auth("operator")).status_code == 200
            relay.cut()
            r = client.get("/api/v1/cases", headers=world.auth("operator"))
            assert r.status_code == 503, r.text
            assert r.json()["detail"].startswith("database unavailable") and r.headers["retry-after"]
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics").status_code == 200
            relay.start()
            r = client.get("/api/v1/cases", headers=world.auth("operator"))
            assert r.status_code == 200, r.text
            assert client.get("/readyz").status_code == 200
    finally:
        relay.cut()
        app.state.engine.dispose()
