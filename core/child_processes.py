"""Helper processes that end with the process that started them.

A worker's import processes are its children: stopped with it when it stops, but a worker
killed outright (SIGKILL, the out-of-memory killer) gets no chance to stop them, and they would
run on, holding their memory. ``end_with_parent`` runs in each of them (the pool's initializer)
and watches the parent: once the process that started it is gone (it is then re-parented), it
exits. A thread that looks at ``os.getppid`` rather than ``prctl(PR_SET_PDEATHSIG)``, which
fires when the *thread* that started the child ends, not the process, and is Linux only.
"""

from __future__ import annotations

import os
import threading
import time

EXIT_CODE = 70  # what a helper that outlived its parent exits with


def end_with_parent(every: float = 0.5) -> None:
    """Exit this process within ``every`` seconds of its parent's end."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(EXIT_CODE)  # the whole process, from this thread: nobody is left to wait for it

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
