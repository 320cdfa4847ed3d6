"""Functions the Go tests call: conversions, exceptions, slow calls and batches."""

import threading
import time


def echo(value):
    return value


def noop():
    return None


def add(a, b):
    return a + b


def kind(value):
    """The Python type of what arrived, with the types inside containers."""
    if isinstance(value, dict):
        return {"dict": sorted(f"{type(k).__name__}:{k}={type(v).__name__}" for k, v in value.items())}
    if isinstance(value, list):
        return ["list"] + [type(v).__name__ for v in value]
    return type(value).__name__


def count(*args):
    return len(args)


def fail(message):
    raise ValueError(message)


def fail_nested(message):
    def inner():
        raise KeyError(message)

    inner()


def non_string_keys():
    return {1: "one", 2.5: "two and a half", None: "none", "s": "string"}


def bool_key():
    return {False: "no"}


def colliding_keys():
    return {1: "int", "1": "str"}


def tuple_key():
    return {(1, 2): "pair"}


def an_object():
    return threading.Lock()


def nested_object():
    return {"ok": [1, 2, threading.Lock()]}


def text_of_size(n):
    return "x" * n


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def double_all(items):
    return [item * 2 for item in items]


def identity_all(items):
    return items


def score_all(items):
    """A stand-in for a model's predict: a fixed cost per call (a model builds its input
    tensor and runs its graph once per call, ~0.4 ms for the wine model) plus a small cost
    per item. Here the fixed part is a Python loop of about 20 microseconds."""
    total = 0
    for k in range(1000):
        total += k
    return [item for item in items]


async def later(value):
    return value


async def later_fail(message):
    raise RuntimeError(message)


def counts_of(name):
    """[calls, errors] of a loaded function, as every host counts them."""
    from bridge.runtime import RUNTIME

    return list(RUNTIME.table[name].counts)
