"""The wine reviews data set: where it comes from, how it is verified, how it is read.

The project expects one file: the first 8,000 reviews of Kaggle's "Wine Reviews"
(``winemag-data-130k-v2.csv``, scraped from WineEnthusiast; licence CC BY-NC-SA 4.0), with the
unnamed index column called ``id``. Its SHA-256 is :data:`EXPECTED_SHA256`.

Resolution order (:func:`resolve_wine_csv`):

1. an explicit path (``mlbridge data --data PATH``) or ``MLBRIDGE_WINE_CSV``;
2. ``build/data/wine-reviews.csv`` if an earlier run fetched it;
3. a download from ``MLBRIDGE_WINE_URL`` (``http(s)://`` or ``file://``), verified against
   ``MLBRIDGE_WINE_SHA256``. A download of the whole 130k-review file is cut down to the
   project's 8,000 reviews first (byte for byte, header renamed), then verified.

A file that fails verification is never kept; with nothing available the error says how to
provide the file. Explicit paths are trusted as given (CI points at a read-only copy).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CSV_ENV = "MLBRIDGE_WINE_CSV"
URL_ENV = "MLBRIDGE_WINE_URL"
SHA256_ENV = "MLBRIDGE_WINE_SHA256"

DEFAULT_URL = (
    "https://raw.githubusercontent.com/rfordatascience/tidytuesday/master/"
    "data/2019/2019-05-28/winemag-data-130k-v2.csv"
)
"""A public copy of the Kaggle file (TidyTuesday, 2019-05-28)."""

EXPECTED_SHA256 = "7753b3a286fd51442c49622eed9d501ed9684643e226226a39ea4ccdaac967d8"
"""SHA-256 of the project's file: 8,000 reviews, 14 columns (see :data:`COLUMNS`)."""

EXPECTED_ROWS = 8000

COLUMNS = (
    "id",
    "country",
    "description",
    "designation",
    "points",
    "price",
    "province",
    "region_1",
    "region_2",
    "taster_name",
    "taster_twitter_handle",
    "title",
    "variety",
    "winery",
)

REPO_ROOT = Path(__file__).resolve().parent.parent
FETCHED_PATH = REPO_ROOT / "build" / "data" / "wine-reviews.csv"

HOW_TO_PROVIDE = (
    f"provide the wine reviews CSV with `mlbridge data --data PATH` or {CSV_ENV}=PATH, "
    f"or set {URL_ENV} to a reachable copy (http(s):// or file://) and {SHA256_ENV} to its "
    "SHA-256"
)


class DataError(Exception):
    """The wine reviews file is missing, unreadable, or not the file the project expects."""


@dataclass(frozen=True)
class Review:
    """One wine review, typed. Empty CSV cells become ``None`` (price) or ``""`` (text)."""

    description: str
    points: int
    price: float | None
    country: str
    province: str
    variety: str
    winery: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_wine_csv(
    explicit: str | os.PathLike[str] | None = None,
    *,
    fetched_path: Path = FETCHED_PATH,
    download: bool = True,
) -> Path:
    """The path of the wine reviews CSV, fetching it if needed (see the module doc)."""
    given = explicit if explicit is not None else os.environ.get(CSV_ENV) or None
    if given is not None:
        path = Path(given).expanduser()
        source = "--data" if explicit is not None else CSV_ENV
        if not path.is_file():
            raise DataError(f"{source}={path}: no such file; {HOW_TO_PROVIDE}")
        return path.resolve()
    if fetched_path.is_file():
        return fetched_path
    if not download:
        raise DataError(f"no wine reviews file at {fetched_path}; {HOW_TO_PROVIDE}")
    url = os.environ.get(URL_ENV) or DEFAULT_URL
    expected = (os.environ.get(SHA256_ENV) or EXPECTED_SHA256).strip().lower()
    return fetch(url, expected, fetched_path)


def fetch(url: str, expected_sha256: str, destination: Path) -> Path:
    """Download ``url`` to ``destination`` if it (or its 8,000-review cut) has the hash."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".fetch-") as tmp:
        raw = Path(tmp) / "download.csv"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, raw.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(f"could not download {url}: {exc}; {HOW_TO_PROVIDE}") from exc
        got = sha256_of(raw)
        candidate = raw
        if got != expected_sha256:
            cut = Path(tmp) / "cut.csv"
            if _cut_to_project_rows(raw, cut):
                cut_sha = sha256_of(cut)
                if cut_sha == expected_sha256:
                    candidate, got = cut, cut_sha
        if got != expected_sha256:
            raise DataError(
                f"{url}: SHA-256 mismatch: expected {expected_sha256}, got {got}; the file was "
                f"not kept. If you trust this copy, set {SHA256_ENV}={got}; otherwise "
                f"{HOW_TO_PROVIDE}"
            )
        os.replace(candidate, destination)  # same directory: atomic, never a half file
    return destination


def _cut_to_project_rows(source: Path, destination: Path) -> bool:
    """Write the header (index column named ``id``) and the first rows of the full file.

    Works on the raw bytes so that the result can match the project's hash exactly; a quoted
    field spanning lines is followed by counting quotes. False if ``source`` does not look
    like the Kaggle file.
    """
    expected_rest = ",".join(COLUMNS[1:]).encode()
    with source.open("rb") as src:
        header = src.readline()
        first, _, rest = header.rstrip(b"\r\n").partition(b",")
        if rest != expected_rest or first.strip(b'"') not in (b"", b"id", b"X1", b"...1"):
            return False
        ending = header[len(header.rstrip(b"\r\n")) :]
        rows = 0
        with destination.open("wb") as out:
            out.write(b"id," + rest + ending)
            in_quotes = False
            for line in src:
                out.write(line)
                in_quotes ^= line.count(b'"') % 2 == 1
                if not in_quotes:
                    rows += 1
                    if rows == EXPECTED_ROWS:
                        break
    return rows == EXPECTED_ROWS


def read_reviews(path: str | os.PathLike[str], limit: int | None = None) -> list[Review]:
    """The first ``limit`` reviews (all when None) of the CSV at ``path``."""
    return list(iter_reviews(path, limit))


def iter_reviews(path: str | os.PathLike[str], limit: int | None = None) -> Iterator[Review]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in Review.__dataclass_fields__ if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: not a wine reviews CSV (missing columns: {missing})")
        for count, row in enumerate(reader):
            if limit is not None and count >= limit:
                return
            yield _review(row, path, reader.line_num)


def _review(row: dict[str, str], path: str | os.PathLike[str], line: int) -> Review:
    try:
        points = int(row["points"])
        price = float(row["price"]) if row["price"] else None
    except ValueError as exc:
        raise DataError(f"{path}:{line}: bad number: {exc}") from None
    return Review(
        description=row["description"],
        points=points,
        price=price,
        country=row["country"],
        province=row["province"],
        variety=row["variety"],
        winery=row["winery"],
    )
