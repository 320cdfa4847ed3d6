"""Loaded into a private handle by test_upstream_api.c (handle_b.py has the same names)."""


def which():
    return "a"


def multiply(left: int, right: int) -> int:
    return left * right


async def later(value):
    return value
