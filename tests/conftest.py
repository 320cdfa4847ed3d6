"""Session fixtures shared by the test suites: data, reference models, our sentiment model.

- ``wine_csv``: the wine reviews CSV (``MLBRIDGE_WINE_CSV``, or a copy fetched into build/);
  tests that need it are skipped, naming the variable, when there is none.
- ``mly_models``: viant/mly's fixture SavedModels (``MLBRIDGE_MLY_MODELS``), or skipped.
- ``sentiment_model``: ``build/models/sentiment-small``; trained there once if ``make`` has not
  built it yet, so a run trains it at most once.
- ``sentiment_script``: ``python_scripts/wine_sentiment.py`` loaded into the process-wide
  runtime (``bridge.call("process_batch", ...)`` works) on that model, once per session.
- ``speed_goal``: checks a measured speed ratio against its goal in benchmark runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any test module imports TensorFlow

import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.data import CSV_ENV, FETCHED_PATH, DataError, resolve_wine_csv

# The cache suites' fixtures (quality model, private runtime with an mly loader).
pytest_plugins = ["mly_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
MLY_ENV = "MLBRIDGE_MLY_MODELS"
SENTIMENT_SCRIPT = ROOT / "python_scripts" / "wine_sentiment.py"


@pytest.fixture(scope="session")
def wine_csv() -> Path:
    try:
        return resolve_wine_csv(download=False)
    except DataError:
        pytest.skip(f"{CSV_ENV} is not set and {FETCHED_PATH} does not exist")


@pytest.fixture(scope="session")
def mly_models() -> Path:
    value = os.environ.get(MLY_ENV)
    if not value:
        pytest.skip(f"{MLY_ENV} is not set (the viant/mly fixture models directory)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"{MLY_ENV}={value} is not a directory")
    return path


@pytest.fixture(scope="session")
def sentiment_model(wine_csv: Path) -> Path:
    from bridge.train.sentiment import default_output_dir, train_sentiment

    model_dir = default_output_dir("small")
    if not (model_dir / "saved_model.pb").is_file():
        train_sentiment("small", wine_csv, model_dir)
    return model_dir


@pytest.fixture(scope="session")
def sentiment_script(sentiment_model: Path) -> types.ModuleType:
    import bridge

    if "process_batch" not in bridge.RUNTIME.names():
        previous = os.environ.get("MLBRIDGE_MODEL_DIR")
        os.environ["MLBRIDGE_MODEL_DIR"] = str(sentiment_model)
        try:
            bridge.load_from_file("py", [str(SENTIMENT_SCRIPT)])
        finally:
            if previous is None:
                del os.environ["MLBRIDGE_MODEL_DIR"]
            else:
                os.environ["MLBRIDGE_MODEL_DIR"] = previous
    # Scripts run as privately named modules; the function knows its own.
    module = sys.modules[bridge.function("process_batch").callable.__module__]
    assert Path(module.MODEL_DIR) == sentiment_model
    return module


SpeedGoal = Callable[..., None]


@pytest.fixture
def speed_goal(request: pytest.FixtureRequest) -> SpeedGoal:
    """``speed_goal(measured, at_least=..., at_most=..., what=...)``.

    Speed goals are asserted in benchmark runs (``--benchmark-enable``: ``make bench-micro``)
    and printed, not asserted, in the plain test run: on a shared 2-core machine a timed
    assertion measures the neighbours as much as the code. The behaviour around the timing
    (right answers, cache hits counted) is asserted in both.
    """
    options = request.config.option
    # pyproject's addopts disable benchmarks; --benchmark-enable on the command line wins.
    enforce = options.benchmark_enable or not options.benchmark_disable

    def check(
        measured: float, *, at_least: float | None = None, at_most: float | None = None, what: str
    ) -> None:
        goal = f">= {at_least}" if at_least is not None else f"<= {at_most}"
        print(f"\n{what}: {measured:.4g} (goal {goal}{'' if enforce else ', not enforced'})")
        if not enforce:
            return
        if at_least is not None:
            assert measured >= at_least, f"{what}: {measured:.4g}, goal >= {at_least}"
        if at_most is not None:
            assert measured <= at_most, f"{what}: {measured:.4g}, goal <= {at_most}"

    return check
