"""Text classification fine-tuning: the built-in `bible_genre` set, its loader,
and `examples/finetune_classifier.py` run the way users run it.

Everything is offline: `bible_genre` is prepared through TFDS from the
`bible_en_es` files shipped in the package, and the example loads the real
all-MiniLM-L6-v2 checkpoint.
"""

import collections
import gzip
import importlib.resources
import json
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_transformer.data import BertTokenizer
from keras_transformer.data import bible_genre
from keras_transformer.data import load_text_classification
from keras_transformer.training import WarmupLinearDecay

SPLITS = ("train", "validation", "test")
PER_GENRE = {"train": 200, "validation": 40, "test": 80}
# The sections of the Christian canon as ranges of the KJV's 66 books
# (0-based, end excluded): Genesis-Deuteronomy, Joshua-Esther, Job-Song,
# Isaiah-Malachi, Matthew-Acts, Romans-Revelation.
SECTION_RANGES = ((0, 5), (5, 17), (17, 22), (22, 39), (39, 44), (44, 66))


def shipped_english_verses():
    """`{id: English text}` of every verse of the shipped bible_en_es files."""
    verses = {}
    files = importlib.resources.files("keras_transformer.data.bible_en_es")
    for split in SPLITS:
        with gzip.open(files / f"{split}.tsv.gz", "rt", encoding="utf-8") as lines:
            next(lines)
            for line in lines:
                verse_id, english, _ = line.rstrip("\n").split("\t")
                verses[verse_id] = english
    return verses


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    """Every split of the prepared default config, as Python dicts."""
    data_dir = tmp_path_factory.mktemp("tfds")
    builder = tfds.builder("bible_genre", data_dir=data_dir)
    builder.download_and_prepare()
    return data_dir, {
        split: [
            {key: value.decode() if isinstance(value, bytes) else int(value)
             for key, value in example.items()}
            for example in builder.as_dataset(split=split).as_numpy_iterator()
        ]
        for split in SPLITS
    }


def test_sections_are_the_canonical_book_ranges():
    order = bible_genre.CANONICAL_ORDER
    assert len(order) == len(set(order)) == 66
    assert set(bible_genre.BOOK_PLACES) == set(order)
    for label, (start, end) in enumerate(SECTION_RANGES):
        for book in order[start:end]:
            assert bible_genre.BOOK_PLACES[book][0] == bible_genre.GENRES[label], book


def test_every_section_has_unseen_books_in_validation_and_test():
    for genre, splits in bible_genre.BOOKS.items():
        assert all(splits[split] for split in SPLITS), genre
        books = [book for split in SPLITS for book in splits[split]]
        assert len(books) == len(set(books)), genre


def test_evenly_spaced_takes_the_middle_of_equal_stretches():
    assert bible_genre.evenly_spaced(list(range(10)), 3) == [1, 5, 8]
    assert bible_genre.evenly_spaced(list(range(10)), 10) == list(range(10))
    assert bible_genre.evenly_spaced(list(range(4)), 9) == list(range(4))
    assert bible_genre.evenly_spaced(list(range(4)), None) == list(range(4))
    spaced = bible_genre.evenly_spaced(list(range(1000)), 7)
    assert np.all(np.diff(spaced) >= 142) and spaced[0] < 143 and spaced[-1] >= 857


def test_balanced_splits_are_by_book_and_hold_the_shipped_verses(balanced):
    _, splits = balanced
    verses = shipped_english_verses()
    books_of = {}
    for split, examples in splits.items():
        counts = collections.Counter(example["label"] for example in examples)
        assert counts == {label: PER_GENRE[split] for label in range(6)}, split
        for example in examples:
            book = example["id"].split(".")[0]
            assert example["book"] == book
            assert example["text"] == verses[example["id"]]
            start, end = SECTION_RANGES[example["label"]]
            assert book in bible_genre.CANONICAL_ORDER[start:end]
        books_of[split] = {example["book"] for example in examples}
    # No book (hence no verse and no chapter context) is in two splits.
    assert not books_of["train"] & books_of["validation"]
    assert not books_of["train"] & books_of["test"]
    assert not books_of["validation"] & books_of["test"]
    ids = [example["id"] for examples in splits.values() for example in examples]
    assert len(ids) == len(set(ids))


def test_balanced_sample_is_evenly_spaced_through_the_section(balanced):
    _, splits = balanced
    order = bible_genre.CANONICAL_ORDER
    by_book = collections.defaultdict(list)
    for verse_id in shipped_english_verses():  # canonical order within a book
        by_book[verse_id.split(".")[0]].append(verse_id)
    for split in SPLITS:
        for label, genre in enumerate(bible_genre.GENRES):
            books = sorted(bible_genre.BOOKS[genre][split], key=order.index)
            pool = [verse_id for book in books for verse_id in by_book[book]]
            step = len(pool) / PER_GENRE[split]
            expected = [pool[int((j + 0.5) * step)] for j in range(PER_GENRE[split])]
            got = [e["id"] for e in splits[split] if e["label"] == label]
            assert got == expected, (split, genre)


def test_loader_gives_text_label_pairs_and_names(balanced):
    data_dir, splits = balanced
    pairs, info = load_text_classification("bible_genre", "test", data_dir=data_dir)
    assert info.label_names == bible_genre.GENRES and info.num_classes == 6
    assert info.num_examples == 480
    got = [(text.decode(), int(label)) for text, label in pairs.as_numpy_iterator()]
    assert got == [(example["text"], example["label"]) for example in splits["test"]]
    sliced, sliced_info = load_text_classification("bible_genre", "test[:5]",
                                                   data_dir=data_dir)
    assert sliced_info.num_examples == 5


@pytest.mark.parametrize("dataset, split, message", [
    ("no_such_dataset", "train", "Unknown dataset 'no_such_dataset'"),
    ("bible_en_es", "train", "not a text classification dataset"),
    ("", "train", "argument `dataset`"),
    ("bible_genre", "dev", r"argument `split`, expected one of \['test', 'train', "),
    ("bible_genre", 3, "argument `split`"),
])
def test_loader_rejects_bad_arguments(balanced, dataset, split, message):
    data_dir, _ = balanced
    with pytest.raises(ValueError, match=message):
        load_text_classification(dataset, split, data_dir=data_dir)


# === The example ===


def tiny_split(name, per_genre, take):
    """TFDS split arithmetic: the first `take` verses of each section."""
    return "+".join(f"{name}[{i * per_genre}:{i * per_genre + take}]" for i in range(6))


def test_example_selects_on_validation_and_saves_an_exportable_slim_model(
        balanced, tmp_path, capsys):
    from examples import finetune_classifier

    data_dir, _ = balanced
    output_dir = tmp_path / "classifier"
    text = "Blessed are the meek: for they shall inherit the earth."
    metrics = finetune_classifier.main([
        "--data-dir", str(data_dir), "--output-dir", str(output_dir),
        "--train-split", tiny_split("train", 200, 4),
        "--validation-split", tiny_split("validation", 40, 2),
        "--test-split", tiny_split("test", 80, 2),
        "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-4",
        "--text", text, "--plot",
    ])
    out = capsys.readouterr().out
    assert "[validation] epoch 2: accuracy" in out and "[test]" in out
    assert metrics["train_examples"] == 24 and metrics["test_examples"] == 12
    # Model selection: the chosen epoch has the best validation accuracy.
    curve = metrics["curves"]["validation_accuracy"]
    assert len(curve) == metrics["epochs_completed"] == 2
    assert metrics["chosen_epoch"] == int(np.argmax(curve)) + 1
    assert metrics["validation_accuracy"] == max(curve)
    # The logged rates are the recipe's schedule, step by step.
    schedule = WarmupLinearDecay(1e-4, total_steps=6, warmup_fraction=0.1)
    np.testing.assert_allclose(metrics["curves"]["learning_rate"],
                               [float(schedule(step)) for step in range(6)], rtol=1e-6)
    assert (output_dir / "curves.png").stat().st_size > 0

    # The saved model is slim and is the chosen one: it scores the test
    # split and the text as the run did.
    with zipfile.ZipFile(output_dir / "model.keras") as archive:
        archive.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    model = keras.saving.load_model(output_dir / "model.keras")
    tokenizer = BertTokenizer.load(output_dir / "tokenizer")
    labels = json.loads((output_dir / "labels.json").read_text())
    assert labels == list(bible_genre.GENRES)
    pairs, _ = load_text_classification("bible_genre", tiny_split("test", 80, 2),
                                        data_dir=data_dir)
    texts, gold = zip(*((t.decode(), int(y)) for t, y in pairs.as_numpy_iterator()))
    encoded = finetune_classifier.encode_texts(list(texts) + [text], tokenizer, 512, "t")
    batches = finetune_classifier.make_batches(encoded, [0] * len(encoded), 5)
    predicted = finetune_classifier.predict_classes(model, batches)
    assert np.mean(predicted[:-1] == np.array(gold)) == metrics["test_accuracy"]
    assert labels[predicted[-1]] == metrics["classified"][0]["label"]


def test_example_refuses_to_cut_a_long_text(tmp_path):
    from examples import finetune_classifier

    tokenizer = BertTokenizer.from_huggingface(finetune_classifier.default_checkpoint())
    with pytest.raises(ValueError, match=r"Text 1 of split 'test' has 9 tokens, more "
                                         r"than --max-length=8; nothing is cut"):
        finetune_classifier.encode_texts(
            ["In the beginning.", "In the beginning God created heaven."],
            tokenizer, 8, "test")


def test_batches_pad_to_the_longest_text_of_each_batch():
    from examples import finetune_classifier

    encoded = [[101, 7, 102], [101, 7, 8, 9, 102], [101, 102]]
    batches = list(finetune_classifier.make_batches(encoded, [0, 1, 2], 2))
    (first, first_labels), (second, second_labels) = batches
    np.testing.assert_array_equal(first["token_ids"],
                                  [[101, 7, 102, 0, 0], [101, 7, 8, 9, 102]])
    np.testing.assert_array_equal(first["padding_mask"], [[1, 1, 1, 0, 0], [1] * 5])
    np.testing.assert_array_equal(first["segment_ids"], np.zeros((2, 5)))
    np.testing.assert_array_equal(second["token_ids"], [[101, 102]])
    assert first_labels.numpy().tolist() == [0, 1] and second_labels.numpy().tolist() == [2]


@pytest.mark.slow
def test_example_output_exports_for_classification(balanced, tmp_path):
    from examples import finetune_classifier
    from keras_transformer import cli

    data_dir, _ = balanced
    output_dir = tmp_path / "classifier"
    finetune_classifier.main([
        "--data-dir", str(data_dir), "--output-dir", str(output_dir),
        "--train-split", tiny_split("train", 200, 2),
        "--validation-split", tiny_split("validation", 40, 1),
        "--test-split", tiny_split("test", 80, 1), "--epochs", "1",
    ])
    status = cli.main([
        "export-encoder", "--model", str(output_dir / "model.keras"),
        "--tokenizer", str(output_dir / "tokenizer"), "--output", str(tmp_path / "exports"),
        "--name", "genre", "--task", "classification",
        "--labels", str(output_dir / "labels.json"), "--formats", "savedmodel",
    ])
    assert status == 0
    manifest = json.loads(next((tmp_path / "exports" / "genre").rglob(
        "export.json")).read_text())
    assert manifest["task"] == "classification"
    assert manifest["labels"] == list(bible_genre.GENRES)
