"""``mlbridge http-demo`` (the HTTP part of ``make demo``) on the wine quality example.

It starts the real server with ``-host 127.0.0.1 -port 0`` (whatever the file's Endpoint says),
prints the answers and where they came from, and leaves no server running, also when a request
fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge import cli
from bridge.server import ServerProcess
from support.mlbridge_server import require_mlbridge_server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wine_quality.yaml"


@pytest.fixture
def config(quality_model: Path, tmp_path: Path) -> Path:
    require_mlbridge_server()
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "../build/models/wine-quality", str(quality_model)
    )
    path = tmp_path / "wine_quality.yaml"
    path.write_text("Endpoint: {Port: 1}\n" + text, encoding="utf-8")  # overridden: port 0
    return path


def test_the_demo_answers_a_row_a_batch_and_a_repeat_from_the_cache(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["http-demo", str(config)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", out)
    answers = re.findall(r"→ 200 (\{.*\})", out)
    assert len(answers) == 3 and all('"status":"ok"' in a for a in answers)
    assert re.findall(r"\((\d) of (\d) row\(s\) evaluated", out) == [
        ("1", "1"),
        ("2", "3"),  # the batch's first row is the single row: from the cache
        ("0", "1"),
    ]
    assert answers[0].split('"data":')[1] == answers[2].split('"data":')[1]


def test_the_server_is_stopped_when_the_demo_fails(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[ServerProcess] = []
    original = ServerProcess.start

    def start(self: ServerProcess, timeout: float = 120.0) -> None:
        started.append(self)
        original(self, timeout)

    monkeypatch.setattr(ServerProcess, "start", start)
    assert cli.main(["http-demo", str(config), "--model", "nope"]) == 1
    assert "404" in capsys.readouterr().err
    assert len(started) == 1 and started[0].process is None  # stopped and reaped
