"""Where the points run: an embedded Dask ``LocalCluster`` (default) or an existing scheduler.

The embedded cluster has one single-threaded worker process per ``threads`` cores (each point sets
``torch.set_num_threads(threads)``) and listens on 127.0.0.1 only (dashboard on a free port). Its
scheduler gives up on a point whose worker died ``retries + 1`` times
(``distributed.scheduler.allowed-failures``) and hands each worker one point at a time, so a death blames
only the point that was running (the runner also counts real starts, see :mod:`.runner`). An address is
probed with a short TCP connect first, so an unreachable scheduler is one line after ``connect_timeout``
seconds, not a hang.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from logcam.errors import ConfigError, InputError


@dataclass
class Cluster:
    """A connected Dask client and, if embedded, the cluster it owns."""

    client: Any
    local: Any | None
    address: str

    @property
    def dashboard(self) -> str | None:
        """The dashboard URL, or None when the scheduler serves none (its pages need ``bokeh``)."""
        import importlib.util

        try:
            link = self.client.dashboard_link
            served = "dashboard" in self.client.scheduler_info().get("services", {})
        except Exception:
            return None
        if not served:
            return None
        return link if importlib.util.find_spec("bokeh") else f"{link} (its plots need: pip install bokeh)"

    def workers(self) -> int:
        """Workers connected to the scheduler now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        """Close the client, and the embedded cluster if there is one (its worker processes end)."""
        try:
            self.client.close(timeout=10)
        finally:
            if self.local is not None:
                self.local.close(timeout=10)


def cpu_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def scheduler_address(scheduler: str | None, scheduler_file: Path | None) -> str | None:
    """The ``tcp://host:port`` to connect to (from ``--scheduler`` or a scheduler file), or None: embedded."""
    if scheduler and scheduler_file:
        raise ConfigError("--scheduler and --scheduler-file: give one of them")
    if scheduler_file is not None:
        try:
            info = json.loads(Path(scheduler_file).read_text())
            scheduler = info["address"]
        except FileNotFoundError:
            raise InputError(f"--scheduler-file {scheduler_file}: no such file") from None
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"--scheduler-file {scheduler_file}: not a Dask scheduler file (JSON with "
                             "an 'address')") from None
    if scheduler is None:
        return None
    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ConfigError(f"--scheduler: {scheduler!r} is not an address tcp://HOST:PORT")
    return f"tcp://{parts.hostname}:{port}"


def probe(address: str, timeout: float) -> None:
    """One TCP connect to the scheduler; InputError in one line if nothing answers within ``timeout`` s."""
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        raise InputError(f"--scheduler: cannot reach a Dask scheduler at {address} within {timeout:g} s "
                         f"({reason})") from None


def connect(address: str | None, *, workers: int | None = None, threads: int = 1, retries: int = 2,
            connect_timeout: float = 5.0) -> Cluster:
    """A client on ``address``, or on a new embedded LocalCluster (``workers`` default: cores // threads)."""
    import dask
    from distributed import Client, LocalCluster

    if address is not None:
        probe(address, connect_timeout)
        try:
            client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise InputError(f"--scheduler: cannot connect to {address}: {err}") from None
        return Cluster(client, None, address)
    n = workers or max(1, cpu_cores() // threads)
    # worker-saturation 1.0: a worker holds only the point it runs, so a worker that dies makes no other point
    # "suspicious" (the scheduler counts every task on a dead worker towards allowed-failures)
    with dask.config.set({"distributed.scheduler.allowed-failures": retries,
                          "distributed.scheduler.worker-saturation": 1.0}):
        local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    client = Client(local, set_as_default=False)
    return Cluster(client, local, local.scheduler_address)


__all__ = ["Cluster", "connect", "cpu_cores", "probe", "scheduler_address"]
