"""Loaded into a second private handle by test_upstream_api.c: the same names as handle_a.py."""


def which():
    return "b"


def multiply(left, right):
    return left * right * 10
