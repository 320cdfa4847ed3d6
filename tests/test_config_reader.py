"""The generic configuration reader: case-insensitive keys, typed values, key paths in errors."""

from __future__ import annotations

import pytest

from bridge.config.reader import ConfigError, Section, errors_from, parse_yaml


def test_keys_match_whatever_their_case_and_errors_spell_them_as_the_file_does() -> None:
    section = Section(parse_yaml("TimeToLiveMS: 5\nname: x", "<t>"), "Datastores[0]")
    assert section.integer("TimeToLiveMs", 0) == 5
    with pytest.raises(ConfigError, match=r"^Datastores\[0\]\.name: expected an integer"):
        section.integer("Name", 0)


def test_a_key_given_twice_in_two_cases_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^Top\.ID: given twice"):
        Section({"ID": 1, "id": 2}, "Top")


def test_finish_rejects_unread_keys_but_not_ignored_ones() -> None:
    section = Section({"ID": "a", "Debug": True, "Typo": 1}, "M", ignored=frozenset({"debug"}))
    section.string("ID")
    with pytest.raises(ConfigError, match=r"^M\.Typo: unknown key$"):
        section.finish()


def test_list_items_carry_their_index_in_the_path() -> None:
    top = Section({"Models": [{"ID": "a"}, "oops"]}, "")
    (first_path, _), (second_path, second) = top.items("Models")
    assert (first_path, second_path) == ("Models[0]", "Models[1]")
    with pytest.raises(ConfigError, match=r"^Models\[1\]: expected a mapping, got a string"):
        Section(second, second_path)


def test_errors_from_names_the_source_once() -> None:
    with pytest.raises(ConfigError) as err, errors_from("app.yaml"):
        Section({"Port": "x"}, "Connections[0]").integer("Port", 0)
    assert str(err.value) == "app.yaml: Connections[0].Port: expected an integer, got 'x'"
    assert err.value.path == "Connections[0].Port"


def test_numbers_must_be_finite_and_booleans_are_not_numbers() -> None:
    section = Section({"a": float("inf"), "b": True}, "")
    with pytest.raises(ConfigError, match="finite"):
        section.number("a", 0)
    with pytest.raises(ConfigError, match="expected a number"):
        section.number("b", 0)


def test_bad_yaml_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^x\.yaml: not valid YAML"):
        parse_yaml("a: [", "x.yaml")
