"""Whole-process memory of a process tree, sampled from the OS while it runs.

RSS counts every page a process has resident, so the RSS of a pool of workers double-counts
what they share (the Python binary, libraries, copy-on-write pages after fork). PSS divides each
shared page among the processes that map it, so summing PSS over a tree is the fair total. We
report both: the peak of the summed RSS and the peak of the summed PSS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


def _status(pid: int | str) -> dict[str, str]:
    """/proc/<pid>/status as key → value ({} if the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = (line.partition(":") for line in text.splitlines())
    return {key: value.strip() for key, _, value in fields}


def _mb(status: dict[str, str], key: str) -> float:
    value = status.get(key, "0 kB").split()
    return int(value[0]) / 1024 if value else 0.0


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM: the OS's own peak resident set of one process (0 if it has none or is gone)."""
    return _mb(_status(pid), "VmHWM")


@dataclass(frozen=True)
class ProcessMemory:
    """One process's memory, from the OS, in MB: its peak resident set since it started
    (VmHWM), and its resident set now (VmRSS) split into anonymous memory (every heap: Python's,
    glibc's, Go's, TensorFlow's; thread stacks) and file-backed pages (the program and its
    shared libraries, of which TensorFlow's take ~380 MB once a model has run)."""

    peak_rss_mb: float
    rss_mb: float
    anon_mb: float
    file_mb: float
    threads: int


def process_memory(pid: int | str = "self") -> ProcessMemory:
    """Zeros if the process is gone."""
    status = _status(pid)
    return ProcessMemory(
        peak_rss_mb=_mb(status, "VmHWM"),
        rss_mb=_mb(status, "VmRSS"),
        anon_mb=_mb(status, "RssAnon"),
        file_mb=_mb(status, "RssFile") + _mb(status, "RssShmem"),
        threads=int(status.get("Threads", "0") or 0),
    )


@dataclass(frozen=True)
class MemoryPeak:
    rss_mb: float
    pss_mb: float
    processes: int  # the most processes seen at once in the tree


class TreeSampler:
    """Samples the RSS and PSS of ``pid`` and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._peak_rss = 0
        self._peak_pss = 0
        self._peak_count = 0
        self._seen: set[int] = set()  # the pids of the previous sample
        self._thread = threading.Thread(target=self._run, name="mem-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> MemoryPeak:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak

    @property
    def peak(self) -> MemoryPeak:
        return MemoryPeak(self._peak_rss / MB, self._peak_pss / MB, self._peak_count)

    def sample(self) -> None:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return
        rss = pss = 0
        alive: set[int] = set()
        for proc in procs:
            try:
                full = proc.memory_full_info()  # reads smaps_rollup: both RSS and PSS
            except psutil.Error:  # exited between listing and reading
                continue
            rss += full.rss
            pss += getattr(full, "pss", full.rss)
            alive.add(proc.pid)
        # A process counts once two samples in a row saw it: the embedded interpreter runs
        # short-lived helpers (Python's platform module runs `uname -p` while TensorFlow loads)
        # that are not workers holding a model.
        count = len(alive & self._seen) if self._seen else len(alive)
        self._seen = alive
        self._peak_rss = max(self._peak_rss, rss)
        self._peak_pss = max(self._peak_pss, pss)
        self._peak_count = max(self._peak_count, count)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)
