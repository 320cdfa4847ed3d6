"""Vocabularies read from SavedModels (mly's export ops; Keras 3 exports) and their hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.models.dictionary import (
    FNV64_OFFSET,
    Layer,
    combine,
    files_hash,
    fnv1_64,
    load_dictionary,
    make_layer,
)

MLY_VOCAB = ("", "[UNK]", "a", "b", "c")


def test_fnv1_64_matches_the_reference_vectors() -> None:
    # FNV-1 (not 1a) 64-bit, as Go's hash/fnv.New64.
    assert fnv1_64(b"") == FNV64_OFFSET
    assert fnv1_64(b"a") == 0xAF63BD4C8601B7BE
    assert fnv1_64(b"hello") == 0x7B495389BDBDD4C7


def test_a_string_layer_hashes_its_sorted_vocabulary_concatenated() -> None:
    layer = make_layer("sl", [b"c", b"a", b"b"])
    assert layer.strings == ("a", "b", "c")
    assert layer.hash() == make_layer("x", ["b", "c", "a"]).hash()
    expected = fnv1_64(b"abc")
    assert layer.hash() == (expected - (1 << 64) if expected >= 1 << 63 else expected)


def test_int_layers_hash_their_values_not_a_constant() -> None:
    # mly hashes every int layer to the FNV offset basis; here they differ by content.
    one, two = make_layer("i", [1, 2, 3]), make_layer("i", [1, 2, 4])
    assert one.is_int and one.ints == (1, 2, 3)
    assert one.hash() != two.hash()
    assert one.hash() != Layer("i").hash()


def test_the_dictionary_hash_is_the_wrapping_sum_of_layer_hashes() -> None:
    layers = [make_layer("a", ["x"]), make_layer("b", ["y", "z"])]
    total = (layers[0].hash() + layers[1].hash()) & ((1 << 64) - 1)
    assert combine(layers) == (total - (1 << 64) if total >= 1 << 63 else total)


def test_mly_fixture_vocabularies_come_from_lookup_table_export_ops(mly_models: Path) -> None:
    d = load_dictionary(mly_models / "string_lookups_int_model", ["sa", "sl"])
    sa, sl = d.layer("sa"), d.layer("sl")
    assert sa is not None and sl is not None
    assert sa.strings == MLY_VOCAB and sl.strings == MLY_VOCAB
    assert d.hash == combine([sa, sl])
    same = load_dictionary(mly_models / "string_lookups_float_model", ["sa", "sl"])
    assert same.hash == d.hash  # same vocabularies, same hash (mly: weights are not hashed)


def test_an_input_without_a_lookup_layer_is_absent(mly_models: Path) -> None:
    d = load_dictionary(mly_models / "float_input_float_model", ["sl", "fl"])
    assert d.layer("fl") is None and d.layer("sl") is not None


def test_a_model_without_vocabulary_hashes_its_files(mly_models: Path, tmp_path: Path) -> None:
    import shutil

    d = load_dictionary(mly_models / "keyed_out_model", ["i"])
    assert d.layers == () and d.hash == files_hash(mly_models / "keyed_out_model")
    copy = tmp_path / "copy"
    shutil.copytree(mly_models / "keyed_out_model", copy)
    assert files_hash(copy) == d.hash  # copying keeps it (mly's mtime hash would change)
    (copy / "variables" / "variables.index").write_bytes(b"retrained")
    assert files_hash(copy) != d.hash


@pytest.fixture(scope="module")
def keras3_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    word = keras.Input(shape=(1,), dtype="string", name="word")
    code = keras.Input(shape=(1,), dtype="int64", name="code")
    w = keras.layers.StringLookup(vocabulary=["red", "white"], name="word_lookup")(word)
    c = keras.layers.IntegerLookup(vocabulary=[7, 11, 13], name="code_lookup")(code)
    merged = keras.layers.Concatenate()(
        [keras.ops.cast(w, "float32"), keras.ops.cast(c, "float32")]
    )
    model = keras.Model({"word": word, "code": code}, keras.layers.Dense(1, name="out")(merged))
    path = tmp_path_factory.mktemp("keras3") / "model"
    model.export(str(path), verbose=False)
    return path


def test_keras3_exports_have_their_lookup_vocabularies_read(keras3_model: Path) -> None:
    d = load_dictionary(keras3_model, ["code", "word"])
    word, code = d.layer("word"), d.layer("code")
    assert word is not None and word.strings == ("red", "white")
    assert code is not None and code.is_int and code.ints == (7, 11, 13)
    assert d.hash == combine([code, word])
