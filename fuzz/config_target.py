"""Fuzz target: the configuration reader and mly's schema (:func:`bridge.config.parse_config`).

Any text is either a :class:`~bridge.config.Config` or a :class:`~bridge.config.ConfigError`
whose message stays short; never another exception, a hang (``-timeout``) or a blow-up in
memory (``-rss_limit_mb``).

    python fuzz/config_target.py build/fuzz/config fuzz/corpus/config -max_total_time=60

:func:`check` is also what ``tests/test_fuzz_corpora.py`` replays over the committed corpus.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bridge.config import Config, ConfigError, parse_config

MESSAGE_LIMIT = 2_000
BASE = Path("/nonexistent/mlbridge-fuzz")


def check(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        config = parse_config(text, source="<fuzz>", base_dir=BASE)
    except ConfigError as exc:
        assert len(str(exc)) < MESSAGE_LIMIT, str(exc)[:200]
        return
    assert isinstance(config, Config)
    for model in config.models:
        assert model.id and "/" not in model.id


def main() -> None:
    import atheris

    atheris.instrument_all()  # coverage of everything imported: PyYAML, the reader, the schema
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
