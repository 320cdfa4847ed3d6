"""The ``mlbridge`` command.

Each subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> int``; adding
one is one entry in :data:`COMMANDS` (or :data:`TRAIN_MODELS` for ``mlbridge train <model>``).
Modules are imported when the parser is built, so they keep heavy imports (TensorFlow) inside
``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from bridge.data import DataError, read_reviews, resolve_wine_csv

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "python_scripts" / "wine_sentiment.py"


# -- mlbridge data ---------------------------------------------------------------------------


class DataCommand:
    """Find (or fetch and verify) the wine reviews CSV and print its path."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", help="use this CSV (default: MLBRIDGE_WINE_CSV, or fetch)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        print(resolve_wine_csv(args.data))
        return 0


# -- mlbridge demo ---------------------------------------------------------------------------


class DemoCommand:
    """Sentiment over the first reviews through the bridge runtime, with a summary and timing."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-n", type=int, default=1000, help="how many reviews (1000)")
        parser.add_argument("--data", help="wine reviews CSV (default: MLBRIDGE_WINE_CSV)")
        parser.add_argument(
            "--batch-size", type=int, default=0, help="reviews per call (default: all in one)"
        )
        parser.add_argument("--size", choices=("small", "large"), help="model size (small)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        import bridge

        if args.size:
            os.environ["MLBRIDGE_SENTIMENT_SIZE"] = args.size
        model_dir = sentiment_model_dir()
        if not (model_dir / "saved_model.pb").is_file():
            size = os.environ.get("MLBRIDGE_SENTIMENT_SIZE") or "small"
            print(
                f"mlbridge demo: no sentiment model at {model_dir}; "
                f"run `mlbridge train sentiment --size {size}` first",
                file=sys.stderr,
            )
            return 1
        texts = [r.description for r in read_reviews(resolve_wine_csv(args.data), args.n)]

        started = time.perf_counter()
        bridge.load_from_file("py", [str(SCRIPT)])
        loaded = time.perf_counter()
        per_call: int = args.batch_size if args.batch_size > 0 else max(len(texts), 1)
        results = []
        for i in range(0, len(texts), per_call):
            results.extend(bridge.call("process_batch", texts[i : i + per_call]))
        done = time.perf_counter()

        positive = sum(1 for r in results if r["label"] == "POSITIVE")
        calls = -(-len(texts) // per_call)
        seconds = done - loaded
        print(f"model: {model_dir}")
        print(f"reviews: {len(results)}  positive: {positive}  negative: {len(results) - positive}")
        print(f"load (script + model): {loaded - started:.2f} s")
        print(
            f"process_batch: {calls} call(s) of up to {per_call}, {seconds * 1000:.1f} ms "
            f"({seconds / max(len(results), 1) * 1e6:.0f} µs per review)"
        )
        return 0


def sentiment_model_dir() -> Path:
    """Where ``python_scripts/wine_sentiment.py`` will look for its model (same rule)."""
    configured = os.environ.get("MLBRIDGE_MODEL_DIR")
    if configured:
        return Path(configured)
    from bridge.train.sentiment import default_output_dir

    return default_output_dir(os.environ.get("MLBRIDGE_SENTIMENT_SIZE") or "small")


# -- mlbridge serve --------------------------------------------------------------------------


class ServeCommand:
    """Serve an mly configuration over mly's REST API (the Go server, ``make go`` builds it)."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("config", help="the mly configuration (YAML or JSON)")
        parser.add_argument("--host", help="listen on this address (default: Endpoint.Host)")
        parser.add_argument("--port", type=int, help="listen on this port (default: Endpoint.Port)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from bridge.server import server_binary

        server = server_binary()
        if not os.access(server, os.X_OK):
            print(f"mlbridge serve: no server at {server}; run `make go`", file=sys.stderr)
            return 1
        argv = [str(server), "-c", str(Path(args.config).resolve())]
        if args.host is not None:
            argv += ["-host", args.host]
        if args.port is not None:
            argv += ["-port", str(args.port)]
        # The server replaces this process: one runtime in it, no Python parent left behind.
        os.execv(server, argv)


# -- the command table -------------------------------------------------------------------------

Command = type[DataCommand] | type[DemoCommand] | type[ServeCommand] | ModuleType
COMMANDS: dict[str, tuple[str, Command | str]] = {
    "data": ("find or fetch the wine reviews CSV and print its path", DataCommand),
    "demo": ("run the Python wine sentiment demo through the bridge", DemoCommand),
    "bench": ("compare Go, C and Python hosts side by side (bench wine)", "bridge.bench.command"),
    "serve": ("serve an mly configuration over HTTP (mly's REST API)", ServeCommand),
    "http-demo": ("start the HTTP server, send a few requests, print the answers", "bridge.server"),
}
"""``mlbridge <name>``: help text and a command class or the name of a command module."""

TRAIN_MODELS: dict[str, tuple[str, str]] = {
    "sentiment": ("train the wine sentiment model", "bridge.train.sentiment"),
    "quality": ("train the wine quality model (points from categories)", "bridge.train.quality"),
}
"""``mlbridge train <name>``: help text and the module that trains the model."""


def _command(target: Command | str) -> Command:
    return importlib.import_module(target) if isinstance(target, str) else target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlbridge", description="One embedded Python ML runtime for Go, C, Python and HTTP."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, target) in COMMANDS.items():
        command = _command(target)
        sub = commands.add_parser(name, help=help_text, description=help_text)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    train = commands.add_parser("train", help="train one of the project's models")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, (help_text, module_name) in TRAIN_MODELS.items():
        module = importlib.import_module(module_name)
        sub = models.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except DataError as exc:
        print(f"mlbridge {args.command}: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
