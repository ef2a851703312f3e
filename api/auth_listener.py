"""Every API process forgets a user's cached tokens the moment their sessions and tokens end
(``services.accounts`` notifies ``unioncard_auth`` with the user's id in the same transaction):
a thread listens on its own connection. While it cannot listen, the token cache keeps nothing,
so no process honours a deactivated token longer than the request it is answering."""

from __future__ import annotations

import threading

import psycopg

from api.deps import TokenCache
from core.logging import get_logger
from services.accounts import AUTH_CHANNEL

log = get_logger("api.auth_listener")
RETRY_SECONDS = 2.0


class AuthListener:
    def __init__(self, url: str, cache: TokenCache) -> None:
        self.url, self.cache = url, cache
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auth-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {AUTH_CHANNEL}")
                    self.cache.listening = True
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._forget(note.payload)
            except psycopg.Error as exc:
                log.warning("auth_listener.lost", error=type(exc).__name__)
            self.cache.listening = False  # nothing is kept while nobody tells this process
            self.cache.clear()
            self._stop.wait(RETRY_SECONDS)

    def _forget(self, payload: str) -> None:
        try:
            self.cache.forget_user(int(payload))
        except ValueError:
            self.cache.clear()
