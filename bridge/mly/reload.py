"""Hot reload of served models, in the runtime: every host's ``<ID>.eval`` gets new versions.

A :class:`Reloader` polls each watched model's ``URL`` every ``ReloadIntervalMs`` (mly: every
minute) on one background thread. A new version is loaded beside the serving one, warmed with
one evaluation and swapped in with one assignment (:meth:`ModelService.install`): a call that
already read the old version finishes on it, the next call sees the new one, and the new
dictionary hash makes cache entries written under the old dictionary miss. A version that fails
to load or to warm leaves the old one serving, is tried again at the next poll, and shows in
:meth:`Reloader.status` (``ok`` 0, ``failures``, ``last_error``) and so in health and metrics.

When is a directory complete? mly ignores a change whose files' mtimes span more than an hour,
which is wrong both ways (a slow copy of a big model is loaded half-written; a directory whose
files keep their old mtimes is never loaded). Ours: a poll records the tree (every file's
relative path, size and mtime); a new tree is loaded only when **the next poll finds exactly the
same tree** — nothing was created, grown or touched for a whole interval. A directory replaced
by rename appears whole at once, so it is loaded one poll after it is seen (within two
intervals of the rename). A directory being copied into changes at every poll while the copy
runs (new files, growing sizes, fresh mtimes), so it is loaded one interval after the copy ends.
The tree is scanned again after the content hash and after the load: a change in between means
the loaded files may be a mixture, so that version is dropped (not counted as a failure) and the
new tree settles again. A copy that stalls for a whole interval is tried; if it is not a model
yet the load fails, the old version keeps serving and the next poll retries.

A copy with new mtimes but the same bytes is not a reload: before loading, the settled tree's
content hash (BLAKE2b over paths and bytes) is compared with the serving version's.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bridge.cache.counters import Counters
from bridge.config.model import DEFAULT_RELOAD_INTERVAL_MS
from bridge.mly.keys import kind_of

if TYPE_CHECKING:
    from bridge.mly.service import ModelService, Predictor

JOIN_TIMEOUT_S = 30.0
"""How long :meth:`Reloader.close` waits for a poll in progress (a TensorFlow load)."""

log = logging.getLogger(__name__)

Outcome = Literal["unchanged", "missing", "settling", "same-content", "reloaded", "failed"]


# -- the directory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """What a poll sees of a model directory: ``(relative path, size, mtime_ns)`` per file."""

    files: tuple[tuple[str, int, int], ...]


def scan(path: Path) -> Tree | None:
    """The directory's tree, or ``None`` when it does not exist (between the two renames of a
    swap, or removed): not a failure, the serving version stays."""
    files: list[tuple[str, int, int]] = []
    try:
        for root, _dirs, names in os.walk(path, onerror=_raise):
            for name in names:
                full = os.path.join(root, name)
                st = os.stat(full)
                files.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Tree(tuple(sorted(files)))


def _raise(exc: OSError) -> None:
    raise exc


def content_hash(path: Path, tree: Tree) -> str:
    """BLAKE2b over every file's relative path and bytes, in path order."""
    digest = hashlib.blake2b(digest_size=16)
    for name, _size, _mtime in tree.files:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        with open(path / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


# -- warming -----------------------------------------------------------------------------------

_DEFAULTS: dict[str, Any] = {"string": "", "int": 0, "float": 0.0, "bool": False, "any": 0}


def warm_up_inputs(predictor: Predictor) -> dict[str, list[Any]]:
    """One example for every model input: the kind's zero value, in the input's shape (from
    the predictor's ``signature`` when it has one, as a SavedModel does; else a column)."""
    signature = getattr(predictor, "signature", None)
    shapes: Mapping[str, tuple[int | None, ...]] = (
        {t.name: t.shape for t in signature.inputs} if signature is not None else {}
    )
    feeds: dict[str, list[Any]] = {}
    for name, dtype in predictor.input_dtypes.items():
        value: Any = _DEFAULTS[kind_of(dtype)]
        shape = shapes.get(name, (None,))
        if len(shape) == 2 and shape[1] == 1:  # a column: given flat
            shape = (None,)
        for dim in reversed(shape[1:]):
            value = [value] * (dim or 1)
        feeds[name] = [value]
    return feeds


def warm_up(predictor: Predictor) -> None:
    """One evaluation of one example; a model that cannot answer it is not served."""
    outputs = predictor.predict(warm_up_inputs(predictor))
    missing = [n for n in predictor.output_names if len(outputs.get(n, ())) != 1]
    if missing:
        raise RuntimeError(f"warm-up evaluation gave no value for outputs {missing}")


# -- polling -----------------------------------------------------------------------------------


@dataclass
class ReloadCounters(Counters):
    polls: int = 0
    reloads: int = 0
    """New versions swapped in."""
    failures: int = 0
    """Versions that failed to load or to warm (each attempt counts)."""
    unchanged: int = 0
    """Settled changes whose bytes were the serving version's (a copy with new mtimes)."""
    discarded: int = 0
    """Loads dropped because the directory changed while they ran."""


class _Watch:
    """One model's polling state; ``lock`` serialises its polls (thread and :meth:`poll`)."""

    def __init__(
        self, service: ModelService, interval_s: float, tree: Tree | None, digest: str
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.serving_tree = tree
        self.serving_digest = digest
        self.pending: Tree | None = None
        self.next_due = 0.0
        self.ok = True
        self.missing = False
        self.last_error = ""
        self.last_outcome: Outcome = "unchanged"
        self.loaded_at = time.time()
        self.last_load_s = 0.0
        self.counters = ReloadCounters()
        self.lock = threading.Lock()


def baseline(path: Path) -> tuple[Tree | None, str]:
    """The tree and content hash to compare later polls with; take it *before* loading, so a
    change made during the first load is seen (at worst it is loaded twice)."""
    tree = scan(path)
    if tree is None:
        return None, ""
    try:
        return tree, content_hash(path, tree)
    except OSError:
        return tree, ""


class Reloader:
    """Polls watched models on one daemon thread, started by the first :meth:`watch`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._watches: dict[str, _Watch] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def watch(
        self,
        service: ModelService,
        interval_ms: int = DEFAULT_RELOAD_INTERVAL_MS,
        start: tuple[Tree | None, str] | None = None,
    ) -> None:
        """Poll ``service``'s URL every ``interval_ms``; ``start`` is its :func:`baseline`."""
        if interval_ms <= 0:
            raise ValueError(f"reload interval must be > 0 ms, got {interval_ms}")
        tree, digest = start if start is not None else baseline(service.url)
        w = _Watch(service, interval_ms / 1000, tree, digest)
        with self._cond:
            w.next_due = self._clock() + w.interval_s
            self._watches[service.id] = w
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="mlbridge-reload", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def unwatch(self, model_id: str) -> None:
        with self._cond:
            self._watches.pop(model_id, None)

    def poll(self, model_id: str) -> Outcome:
        """One poll of ``model_id`` now, on the caller's thread (waits for one in progress)."""
        with self._cond:
            w = self._watches[model_id]
        with w.lock:
            return self._poll(w)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per model: ``ok`` (1, or 0 after a failed reload until one succeeds), the counters,
        ``last_error``, ``pending`` (a change waiting to settle), ``interval_ms`` and more."""
        with self._cond:
            watches = dict(self._watches)
        return {model_id: _status(w) for model_id, w in watches.items()}

    def health(self) -> dict[str, int]:
        """mly's ``/v1/api/health`` body: ``{"<id>": 1}``, 0 after a failed reload."""
        with self._cond:
            return {model_id: int(w.ok) for model_id, w in self._watches.items()}

    def close(self) -> None:
        """Stop polling and forget every model; a later :meth:`watch` starts again."""
        with self._cond:
            self._stopping = True
            self._watches.clear()
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = self._clock()
                due = [w for w in self._watches.values() if w.next_due <= now]
                if not due:
                    wait = min((w.next_due for w in self._watches.values()), default=now + 3600)
                    self._cond.wait(wait - now)
                    continue
            for w in due:
                # A poll in progress from poll() makes this one redundant: skip, do not queue.
                if w.lock.acquire(blocking=False):
                    try:
                        if not self._stopping:
                            self._poll(w)
                    except Exception:  # never let one model stop the polling of the others
                        log.exception("reload poll of %s failed", w.service.id)
                    finally:
                        w.lock.release()
                w.next_due = self._clock() + w.interval_s

    def _poll(self, w: _Watch) -> Outcome:
        w.counters.add("polls")
        outcome = self._step(w)
        w.last_outcome = outcome
        return outcome

    def _step(self, w: _Watch) -> Outcome:
        url = w.service.url
        tree = scan(url)
        w.missing = tree is None
        if tree is None:
            w.pending = None
            return "missing"
        if tree == w.serving_tree:
            w.pending = None
            return "unchanged"
        if tree != w.pending:  # new, or still changing: look again at the next poll
            w.pending = tree
            return "settling"
        try:
            digest = content_hash(url, tree)
        except OSError:  # a file went away while we read it: still changing
            w.pending = None
            return "settling"
        if scan(url) != tree:
            w.pending = None
            return "settling"
        if digest == w.serving_digest:
            w.serving_tree, w.pending = tree, None
            w.counters.add("unchanged")
            return "same-content"
        started = self._clock()
        try:
            version = w.service.prepare(url)
        except Exception as exc:
            w.counters.add("failures")
            w.ok = False
            w.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "reload of %s from %s failed; the old version keeps serving: %s",
                w.service.id,
                url,
                w.last_error,
            )
            return "failed"  # pending stays: the next poll that finds the same tree retries
        if scan(url) != tree:  # the loaded files may be a mixture of two versions
            w.counters.add("discarded")
            w.pending = None
            return "settling"
        # Bookkeeping first: by the time a caller sees the new version, status says so too.
        w.serving_tree, w.serving_digest, w.pending = tree, digest, None
        w.ok, w.last_error, w.last_outcome = True, "", "reloaded"
        w.loaded_at = time.time()
        w.last_load_s = self._clock() - started
        w.counters.add("reloads")
        w.service.install(version)
        _refreeze()
        log.info("reloaded %s from %s in %.2fs", w.service.id, url, w.last_load_s)
        return "reloaded"


def _refreeze() -> None:
    """Lets the swapped-out version's reference cycles be collected in a process that froze
    its objects once loaded (the mly server: ``gc.freeze()`` in ``bridge.mly.meta``): frozen
    objects are never collected, and a TensorFlow model is full of cycles."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def _dict_hash(service: ModelService) -> int:
    dictionary = service.dictionary
    return dictionary.hash if dictionary is not None else 0


def _status(w: _Watch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ok": int(w.ok),
        "interval_ms": round(w.interval_s * 1000),
        "pending": w.pending is not None,
        "missing": w.missing,
        "last_outcome": w.last_outcome,
        "last_error": w.last_error,
        "loaded_at": w.loaded_at,
        "last_load_seconds": w.last_load_s,
        "version": w.serving_digest,
        "dict_hash": _dict_hash(w.service),
    }
    out.update(w.counters.snapshot())
    return out
