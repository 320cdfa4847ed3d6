"""bridge.data: where the wine reviews come from, their verification, the typed reader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bridge import data
from bridge.data import DataError, Review, read_reviews, resolve_wine_csv

HEADER = ",".join(data.COLUMNS)
ROWS = [
    '0,Italy,"Aromas of broom, brimstone.",Vulkà Bianco,87,,Sicily & Sardinia,Etna,,Kerin,'
    "@k,Nicosia 2013,White Blend,Nicosia",
    "1,Portugal,Ripe and fruity.,Avidagos,91,15.0,Douro,,,Roger,@v,Quinta 2011,Portuguese Red,"
    "Quinta dos Avidagos",
]


@pytest.fixture(autouse=True)
def no_data_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states the settings it uses; none leak in from the environment."""
    for name in (data.CSV_ENV, data.URL_ENV, data.SHA256_ENV):
        monkeypatch.delenv(name, raising=False)


def write_csv(path: Path, rows: list[str] = ROWS, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- resolution ------------------------------------------------------------------------------


def test_explicit_path_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_csv(tmp_path / "explicit.csv")
    monkeypatch.setenv(data.CSV_ENV, str(write_csv(tmp_path / "env.csv")))
    assert resolve_wine_csv(explicit, fetched_path=tmp_path / "none.csv") == explicit.resolve()


def test_env_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = write_csv(tmp_path / "env.csv")
    monkeypatch.setenv(data.CSV_ENV, str(env))
    assert resolve_wine_csv(fetched_path=tmp_path / "none.csv") == env.resolve()


def test_missing_explicit_path_names_it_and_how_to_provide(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv: no such file") as err:
        resolve_wine_csv(tmp_path / "missing.csv")
    assert data.CSV_ENV in str(err.value)


def test_already_fetched_file_is_used_without_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = write_csv(tmp_path / "wine-reviews.csv")
    monkeypatch.setenv(data.URL_ENV, "file:///nowhere/at/all.csv")
    assert resolve_wine_csv(fetched_path=fetched) == fetched


def test_nothing_available_says_how_to_provide(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        resolve_wine_csv(fetched_path=tmp_path / "wine.csv", download=False)
    assert data.CSV_ENV in str(err.value) and "--data" in str(err.value)


# -- download --------------------------------------------------------------------------------


def test_download_from_file_url_with_matching_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_csv(tmp_path / "published.csv")
    monkeypatch.setenv(data.URL_ENV, source.as_uri())
    monkeypatch.setenv(data.SHA256_ENV, sha256(source))
    destination = tmp_path / "build" / "data" / "wine-reviews.csv"
    assert resolve_wine_csv(fetched_path=destination) == destination
    assert destination.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in destination.parent.iterdir()) == ["wine-reviews.csv"]


def test_download_with_wrong_hash_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_csv(tmp_path / "published.csv")
    monkeypatch.setenv(data.URL_ENV, source.as_uri())
    monkeypatch.setenv(data.SHA256_ENV, "0" * 64)
    destination = tmp_path / "build" / "wine-reviews.csv"
    with pytest.raises(DataError, match="SHA-256 mismatch") as err:
        resolve_wine_csv(fetched_path=destination)
    assert sha256(source) in str(err.value)  # so that a user who trusts the copy can say so
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []


def test_download_failure_says_how_to_provide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.URL_ENV, (tmp_path / "absent.csv").as_uri())
    with pytest.raises(DataError, match="could not download") as err:
        resolve_wine_csv(fetched_path=tmp_path / "out" / "wine.csv")
    assert data.CSV_ENV in str(err.value)


def test_default_hash_is_the_project_file(wine_csv: Path) -> None:
    assert data.sha256_of(wine_csv) == data.EXPECTED_SHA256


def test_full_kaggle_file_is_cut_to_the_project_reviews(wine_csv: Path, tmp_path: Path) -> None:
    # The published file: index column unnamed, and more reviews after our 8,000.
    lines = wine_csv.read_bytes().splitlines(keepends=True)
    full = tmp_path / "winemag-data-130k-v2.csv"
    full.write_bytes(b"," + lines[0][len(b"id,") :] + b"".join(lines[1:]) + lines[-1] * 3)
    destination = tmp_path / "build" / "wine-reviews.csv"
    data.fetch(full.as_uri(), data.EXPECTED_SHA256, destination)
    assert destination.read_bytes() == wine_csv.read_bytes()


# -- reading ---------------------------------------------------------------------------------


def test_reviews_are_typed(tmp_path: Path) -> None:
    first, second = read_reviews(write_csv(tmp_path / "r.csv"))
    assert first == Review(
        description="Aromas of broom, brimstone.",
        points=87,
        price=None,
        country="Italy",
        province="Sicily & Sardinia",
        variety="White Blend",
        winery="Nicosia",
    )
    assert second.points == 91 and second.price == 15.0


def test_limit_reads_the_first_reviews(tmp_path: Path) -> None:
    assert [r.points for r in read_reviews(write_csv(tmp_path / "r.csv"), limit=1)] == [87]


def test_bad_number_names_the_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [ROWS[0].replace(",87,", ",lots,")])
    with pytest.raises(DataError, match=r"r\.csv:2: bad number"):
        read_reviews(path)


def test_other_csv_is_rejected_with_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing columns"):
        read_reviews(write_csv(tmp_path / "r.csv", ["1,2"], header="a,b"))


def test_project_file_has_8000_reviews(wine_csv: Path) -> None:
    reviews = read_reviews(wine_csv)
    assert len(reviews) == data.EXPECTED_ROWS
    assert all(80 <= r.points <= 100 for r in reviews)
    assert all(r.description for r in reviews)
