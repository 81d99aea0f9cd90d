"""Data: the subword tokenizer, the Bible TFDS builder, loaders and batches.

Everything runs offline: the Bible corpus ships with the package, TFDS
datasets that would be downloaded are mocked (`tfds.testing.mock_data`), and
the download probe is pointed at addresses that cannot answer.
"""

import gzip
import logging
import re
import socket
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_transformer import data
from keras_transformer.data import SubwordTokenizer
from keras_transformer.data import tfds_access
from keras_transformer.data import pipeline

CORPUS_DIR = Path(data.__file__).parent / "bible_en_es"
SPLITS = ("train", "validation", "test")


def read_split(split):
    """[(id, en, es), ...] straight from the shipped TSV."""
    with gzip.open(CORPUS_DIR / f"{split}.tsv.gz", "rt", encoding="utf-8") as f:
        assert next(f) == "id\ten\tes\n"
        return [tuple(line.rstrip("\n").split("\t")) for line in f]


def readme_counts():
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (train|validation|test) \| ([\d,]+) \|", readme, re.M)
    return {split: int(count.replace(",", "")) for split, count in rows}


def pairs_of(rows):
    return tf.data.Dataset.from_tensor_slices(
        ([en for _, en, _ in rows], [es for _, _, es in rows])
    )


@pytest.fixture(scope="module")
def corpus():
    return {split: read_split(split) for split in SPLITS}


@pytest.fixture(scope="module")
def small_texts(corpus):
    """2000 sentences: the first 1000 train pairs, both languages."""
    rows = corpus["train"][:1000]
    return [en for _, en, _ in rows] + [es for _, _, es in rows]


@pytest.fixture(scope="module")
def tokenizer(small_texts):
    return SubwordTokenizer.train(small_texts, vocabulary_size=500)


@pytest.fixture(scope="module")
def bible_data_dir(tmp_path_factory):
    """A TFDS data dir with bible_en_es prepared once for the module."""
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("bible_en_es", data_dir=data_dir).download_and_prepare()
    return data_dir


# === Tokenizer ===


def test_tokenizer_special_ids_and_size(tokenizer):
    assert (tokenizer.pad_id, tokenizer.unk_id) == (0, 1)
    assert (tokenizer.start_id, tokenizer.end_id) == (2, 3)
    assert tokenizer.vocabulary_size == 500
    assert tokenizer.model_type == "bpe"
    assert [tokenizer.id_to_token(i) for i in range(4)] == [
        "<pad>", "<unk>", "<s>", "</s>"
    ]


def test_training_is_deterministic(small_texts, tokenizer):
    again = SubwordTokenizer.train(small_texts, vocabulary_size=500)
    assert again.model_proto == tokenizer.model_proto
    assert again.encode(small_texts[:50]) == tokenizer.encode(small_texts[:50])


def test_python_and_graph_tokenization_agree_on_test_split(corpus, tokenizer):
    texts = [t for _, en, es in corpus["test"] for t in (en, es)]
    python_ids = tokenizer.encode(texts)
    graph_ids = tokenizer.tf_tokenize(tf.constant(texts))
    assert graph_ids.dtype == tf.int32
    assert graph_ids.to_list() == python_ids


def test_round_trip_is_exact_on_test_split(corpus, tokenizer):
    texts = [t for _, en, es in corpus["test"] for t in (en, es)]
    ids = tokenizer.encode(texts)
    # Byte fallback: even this small vocabulary never needs <unk>.
    assert tokenizer.unk_id not in {i for row in ids for i in row}
    assert tokenizer.decode(ids) == texts
    graph_texts = tokenizer.tf_detokenize(tokenizer.tf_tokenize(tf.constant(texts)))
    assert [t.decode("utf-8") for t in graph_texts.numpy()] == texts


def test_round_trip_of_unnormalized_text_gives_normalized_text(tokenizer):
    texts = ["  two  spaces ", "the ﬁrst ligature", "Ελληνικά and 中文", "¿Qué?", ""]
    expected = ["two spaces", "the first ligature", "Ελληνικά and 中文", "¿Qué?", ""]
    assert tokenizer.normalize(texts) == expected
    assert tokenizer.decode(tokenizer.encode(texts)) == expected


def test_decode_reads_up_to_end_and_skips_padding_and_start(tokenizer):
    word = tokenizer.encode(["the LORD"])[0]
    # (B, T) = (2, 2 * len(word) + 3): start, word, end, ignored word, pad.
    padded = np.array(
        [[2, *word, 3, *word, 0], [*word, *[0] * (len(word) + 3)]], np.int32
    )
    assert tokenizer.decode(padded) == ["the LORD", "the LORD"]
    graph = tokenizer.tf_detokenize(tf.constant(padded)).numpy()
    assert graph.tolist() == [b"the LORD", b"the LORD"]
    assert tokenizer.tf_detokenize(tf.constant(padded[0])).numpy() == b"the LORD"


def test_graph_tokenizer_survives_clear_session(tokenizer):
    # clear_session() clears TensorFlow's kernel cache, which owns the
    # SentencePiece model of the graph ops.
    keras.backend.clear_session()
    ids = tokenizer.tf_tokenize(tf.constant(["the LORD"])).to_list()
    assert ids == tokenizer.encode(["the LORD"])


def test_save_and_load_round_trip(tmp_path, tokenizer, small_texts):
    tokenizer.save(tmp_path / "tok")
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == [
        "tokenizer.json", "tokenizer.model"
    ]
    loaded = SubwordTokenizer.load(tmp_path / "tok")
    assert loaded.model_proto == tokenizer.model_proto
    assert loaded.encode(small_texts[:20]) == tokenizer.encode(small_texts[:20])


def test_load_rejects_missing_or_mismatched_files(tmp_path, tokenizer):
    with pytest.raises(ValueError, match="Missing: .*tokenizer.model"):
        SubwordTokenizer.load(tmp_path)
    tokenizer.save(tmp_path)
    other = SubwordTokenizer.train(["a b c", "c b a"] * 5, vocabulary_size=270)
    (tmp_path / "tokenizer.model").write_bytes(other.model_proto)
    with pytest.raises(ValueError, match="SHA-256 differs"):
        SubwordTokenizer.load(tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(texts=["a"], vocabulary_size=0), "argument `vocabulary_size`, expected a positive"),
        (dict(texts=["a"], vocabulary_size=8.5), "argument `vocabulary_size`"),
        (dict(texts=[]), "argument `texts`, expected a non-empty"),
        (dict(texts="one string"), "wrap a single string in a list"),
        (dict(texts=[1, 2]), "item of type int"),
        (dict(texts=["", " "]), "at least one non-blank"),
        (dict(texts=["a"], model_type="wordpiece"), "argument `model_type`"),
        (dict(texts=["abc"] * 3, vocabulary_size=100), "expected at least 264"),
    ],
)
def test_train_rejects_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SubwordTokenizer.train(**kwargs)


def test_encode_and_decode_reject_unbatched_input(tokenizer):
    with pytest.raises(ValueError, match="wrap a single string in a list"):
        tokenizer.encode("the LORD")
    with pytest.raises(ValueError, match="wrap a single sequence in a list"):
        tokenizer.decode([5, 6, 7])
    with pytest.raises(ValueError, match=r"ids in \[0, 500\)"):
        tokenizer.decode([[5, 9999]])


def test_constructor_rejects_other_special_ids(tokenizer):
    with pytest.raises(ValueError, match="argument `model_proto`"):
        SubwordTokenizer(b"not a model")


def test_exported_graph_takes_and_returns_text(tmp_path, tokenizer):
    class RoundTrip(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer  # Tracks the SentencePiece model.

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            ids = self.tokenizer.tf_tokenize(texts).to_tensor()  # (B, T)
            return self.tokenizer.tf_detokenize(ids)

    tf.saved_model.save(RoundTrip(tokenizer), str(tmp_path / "export"))
    restored = tf.saved_model.load(str(tmp_path / "export"))
    texts = ["In the beginning", "EN el principio crió Dios"]
    assert restored(tf.constant(texts)).numpy().tolist() == [
        t.encode() for t in texts
    ]


# === The TFDS builder ===


def test_builder_prepares_splits_with_readme_counts(bible_data_dir, corpus):
    builder = tfds.builder("bible_en_es", data_dir=bible_data_dir)
    assert builder.is_prepared()
    counts = {split: info.num_examples for split, info in builder.info.splits.items()}
    assert counts == readme_counts() == {s: len(corpus[s]) for s in SPLITS}
    assert builder.info.supervised_keys == ("en", "es")
    assert "public domain" in builder.info.description.lower()
    assert "Reina-Valera 1909" in builder.info.citation


def test_builder_prepares_in_seconds(tmp_path):
    start = time.perf_counter()
    tfds.builder("bible_en_es", data_dir=tmp_path).download_and_prepare()
    assert time.perf_counter() - start < 20


def test_tfds_load_yields_the_shipped_verses(bible_data_dir, corpus):
    test = tfds.load("bible_en_es", split="test", data_dir=bible_data_dir)
    examples = [
        (ex["id"].decode(), ex["en"].decode(), ex["es"].decode())
        for ex in test.as_numpy_iterator()
    ]
    assert examples == corpus["test"]
    en, es = next(iter(tfds.load(
        "bible_en_es", split="train", data_dir=bible_data_dir, as_supervised=True
    )))
    assert en.numpy().decode() == "In the beginning God created the heaven and the earth."
    assert es.numpy().decode() == "EN el principio crió Dios los cielos y la tierra."


# === load_translation ===


def test_load_translation_bible_both_directions(bible_data_dir, corpus):
    pairs, info = data.load_translation(split="validation", data_dir=bible_data_dir)
    assert (info.source_language, info.target_language) == ("en", "es")
    assert info.num_examples == len(corpus["validation"])
    assert pairs.element_spec == (
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string)
    )
    first = next(iter(pairs))
    _, en, es = corpus["validation"][0]
    assert [t.numpy().decode() for t in first] == [en, es]

    flipped, info = data.load_translation(
        "bible_en_es", split="validation", data_dir=bible_data_dir,
        source_language="es",
    )
    assert (info.source_language, info.target_language) == ("es", "en")
    assert [t.numpy().decode() for t in next(iter(flipped))] == [es, en]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dataset="no_such_dataset"), r"Unknown dataset 'no_such_dataset'.*folder:"),
        (dict(dataset="mnist"), "not a translation dataset"),
        (dict(source_language="fr"), "argument `source_language`, expected None or one of"),
        (dict(source_language="en", target_language="en"), "must differ"),
    ],
)
def test_load_translation_rejects_bad_arguments(bible_data_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_translation(data_dir=bible_data_dir, **kwargs)


def test_tfds_translation_dataset_with_mock_data(tmp_path, monkeypatch):
    # Pretend the download host answers; mock_data makes downloading a no-op
    # and yields fake examples.
    monkeypatch.setattr(tfds_access, "_probe_all", lambda addresses, timeout: [True] * len(addresses))
    with tfds.testing.mock_data(num_examples=4):
        pairs, info = data.load_translation(
            "ted_hrlr_translate/pt_to_en", data_dir=tmp_path
        )
        flipped, flipped_info = data.load_translation(
            "ted_hrlr_translate/pt_to_en", data_dir=tmp_path, target_language="pt"
        )
        pairs, flipped = list(pairs.as_numpy_iterator()), list(flipped.as_numpy_iterator())
    assert (info.source_language, info.target_language) == ("pt", "en")
    assert (flipped_info.source_language, flipped_info.target_language) == ("en", "pt")
    assert len(pairs) == 4
    assert flipped == [(en, pt) for pt, en in pairs]


def test_unprepared_dataset_offline_fails_fast(tmp_path, monkeypatch):
    probed = []

    def offline(addresses, timeout):
        probed.extend(addresses)
        return [False] * len(addresses)

    monkeypatch.setattr(tfds_access, "_probe_all", offline)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"(?s)not prepared in .*www\.phontron\.com:80.*"
                       r"prepare it on one with access.*data_dir"):
        data.load_translation("ted_hrlr_translate/pt_to_en", data_dir=tmp_path)
    assert time.perf_counter() - start < 5
    assert probed == [("www.phontron.com", 80)]


def test_unprepared_dataset_with_download_false_fails_without_probing(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_access, "_probe_all", pytest.fail)
    with pytest.raises(RuntimeError, match="download=False.*tfds build wmt14_translate/de-en"):
        data.load_translation("wmt14_translate/de-en", data_dir=tmp_path, download=False)


def test_real_probe_fails_fast_against_an_unroutable_host(tmp_path, monkeypatch):
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so the real probe
    # times out or is refused, with or without internet access.
    monkeypatch.setattr(tfds_access, "probe_address", lambda url: ("192.0.2.1", 9))
    monkeypatch.setattr(tfds_access, "PROBE_TIMEOUT_SECONDS", 1.0)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"192\.0\.2\.1:9 \(probed for 1 s\)"):
        data.load_translation("ted_hrlr_translate/pt_to_en", data_dir=tmp_path)
    assert time.perf_counter() - start < 5


def test_can_reach_a_listening_socket_and_not_a_closed_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert tfds_access.can_reach("127.0.0.1", port, timeout=1.0)
    start = time.perf_counter()
    assert not tfds_access.can_reach("192.0.2.1", 9, timeout=0.5)
    assert time.perf_counter() - start < 2


def test_probe_address_uses_the_proxy(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "")
    assert tfds_access.probe_address("https://data.statmt.org/x.tgz") == ("proxy.example", 3128)
    monkeypatch.delenv("https_proxy")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    assert tfds_access.probe_address("https://data.statmt.org/x.tgz") == ("data.statmt.org", 443)


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_folder_dataset_skips_and_reports_empty_lines(tmp_path, caplog):
    write_lines(tmp_path / "en.train.txt", ["one cat", "", "two cats", "three"])
    write_lines(tmp_path / "es.train.txt", ["un gato", "nada", "dos gatos", "  "])
    write_lines(tmp_path / "en.test.txt", ["a dog"])
    write_lines(tmp_path / "es.test.txt", ["un perro"])
    with caplog.at_level(logging.WARNING):
        pairs, info = data.load_translation(f"folder:{tmp_path}", source_language="es")
    assert (info.source_language, info.target_language) == ("es", "en")
    assert (info.num_examples, info.num_skipped) == (2, 2)
    assert [(s.decode(), t.decode()) for s, t in pairs.as_numpy_iterator()] == [
        ("un gato", "one cat"), ("dos gatos", "two cats")
    ]
    assert "Skipped 2 of 4 pairs of split 'train'" in caplog.text
    assert "lines 2, 4" in caplog.text
    test_pairs, _ = data.load_translation(f"folder:{tmp_path}", split="test")
    assert list(test_pairs.as_numpy_iterator()) == [(b"a dog", b"un perro")]


def test_folder_dataset_layout_errors(tmp_path):
    with pytest.raises(ValueError, match="an existing folder"):
        data.load_translation(f"folder:{tmp_path / 'missing'}")
    write_lines(tmp_path / "en.train.txt", ["a", "b"])
    write_lines(tmp_path / "notes.md", ["hello"])
    with pytest.raises(ValueError, match=r"only files named .*notes\.md"):
        data.load_translation(f"folder:{tmp_path}")
    (tmp_path / "notes.md").unlink()
    with pytest.raises(ValueError, match="exactly two languages"):
        data.load_translation(f"folder:{tmp_path}")
    write_lines(tmp_path / "es.train.txt", ["a"])
    with pytest.raises(ValueError, match="same number of lines"):
        data.load_translation(f"folder:{tmp_path}")
    write_lines(tmp_path / "es.train.txt", ["x", "y"])
    with pytest.raises(ValueError, match=r"argument `split`, expected one of \['train'\]"):
        data.load_translation(f"folder:{tmp_path}", split="test")
    write_lines(tmp_path / "en.test.txt", ["a"])
    with pytest.raises(ValueError, match="lacks es.test.txt"):
        data.load_translation(f"folder:{tmp_path}", split="test")


# === Batches ===


@pytest.fixture(scope="module")
def validation_pairs(corpus):
    return pairs_of(corpus["validation"])


def as_lists(batches):
    return [
        (x["encoder_token_ids"].tolist(), x["decoder_token_ids"].tolist(), y.tolist())
        for x, y in batches.as_numpy_iterator()
    ]


def test_batches_shapes_dtypes_and_token_budget(validation_pairs, tokenizer):
    # The small vocabulary makes long sequences: the longest pair has 284 ids.
    batches = data.make_translation_batches(
        validation_pairs, tokenizer, max_length=300, tokens_per_batch=2048, seed=1
    )
    num_pairs = num_batches = 0
    for inputs, targets in batches.as_numpy_iterator():
        num_batches += 1
        encoder, decoder = inputs["encoder_token_ids"], inputs["decoder_token_ids"]
        assert encoder.dtype == decoder.dtype == targets.dtype == np.int32
        assert decoder.shape == targets.shape
        assert encoder.shape[0] == decoder.shape[0]
        assert encoder.size <= 2048 and decoder.size <= 2048
        num_pairs += encoder.shape[0]
    assert num_pairs == 1049
    assert num_batches == int(batches.cardinality())


def test_batches_add_start_and_end_and_shift_by_one(corpus, tokenizer):
    rows = corpus["test"][:40]
    batches = data.make_translation_batches(
        pairs_of(rows), tokenizer, max_length=256, batch_size=8, shuffle=False
    )
    expected = {
        tuple(source + [3]): target
        for source, target in zip(
            tokenizer.encode([en for _, en, _ in rows]),
            tokenizer.encode([es for _, _, es in rows]),
        )
    }
    seen = 0
    for encoder, decoder, targets in as_lists(batches):
        for enc, dec, out in zip(encoder, decoder, targets):
            source = tuple(i for i in enc if i != 0)
            target = expected[source]
            length = len(target) + 1
            assert dec[:length] == [tokenizer.start_id] + target
            assert out[:length] == target + [tokenizer.end_id]
            assert dec[1:length] == out[: length - 1]  # shifted by one
            assert not any(dec[length:]) and not any(out[length:])
            seen += 1
    assert seen == len(rows)


def test_bucketing_pads_much_less_than_plain_batches(corpus, tokenizer):
    pairs = pairs_of(corpus["train"][:4000])
    bucketed = data.make_translation_batches(
        pairs, tokenizer, max_length=192, tokens_per_batch=4096, seed=0
    )
    sizes = [x["encoder_token_ids"].shape[0] for x, _ in bucketed.as_numpy_iterator()]
    plain = (
        pipeline.tokenize_pairs(pairs.shuffle(4000, seed=0), tokenizer)
        .map(lambda s, t: ({"encoder_token_ids": tf.concat([s, [3]], 0),
                            "decoder_token_ids": tf.concat([[2], t], 0)},
                           tf.concat([t, [3]], 0)))
        .padded_batch(round(np.mean(sizes)))
    )
    bucketed_fraction = data.padding_fraction(bucketed)
    plain_fraction = data.padding_fraction(plain)
    assert bucketed_fraction < 0.15
    assert plain_fraction > 0.4
    boundary = data.make_translation_batches(
        pairs, tokenizer, max_length=192, tokens_per_batch=4096, seed=0,
        pad_to_bucket_boundary=True,
    )
    assert data.padding_fraction(boundary) < 0.15


def test_shuffling_is_deterministic_with_a_seed(validation_pairs, tokenizer):
    def run(seed):
        return as_lists(data.make_translation_batches(
            validation_pairs, tokenizer, max_length=128, tokens_per_batch=2048,
            seed=seed,
        ))

    first = run(7)
    assert run(7) == first
    assert run(8) != first


def test_overlength_drop_counts_and_logs(validation_pairs, tokenizer, caplog):
    counts = data.count_overlength(validation_pairs, tokenizer, max_length=48)
    assert counts.num_pairs == 1049
    assert 0 < counts.num_overlength < counts.num_pairs
    assert counts.num_overlength <= counts.num_source_overlength + counts.num_target_overlength
    assert max(counts.longest_source, counts.longest_target) > 48
    with caplog.at_level(logging.WARNING):
        batches = data.make_translation_batches(
            validation_pairs, tokenizer, max_length=48, tokens_per_batch=1024, seed=0
        )
    assert f"{counts.num_overlength} of 1049 pairs" in caplog.text
    assert "dropped" in caplog.text
    kept = sum(x["encoder_token_ids"].shape[0] for x, _ in batches.as_numpy_iterator())
    assert kept == 1049 - counts.num_overlength
    for x, y in batches.as_numpy_iterator():
        assert x["encoder_token_ids"].shape[1] <= 48 and y.shape[1] <= 48


def test_overlength_error_raises(validation_pairs, tokenizer):
    with pytest.raises(ValueError, match=r"pairs .* do not fit max_length=48.*overlength='drop'"):
        data.make_translation_batches(
            validation_pairs, tokenizer, max_length=48, overlength="error"
        )


def test_overlength_error_without_counting_fails_the_iteration(validation_pairs, tokenizer):
    batches = data.make_translation_batches(
        validation_pairs, tokenizer, max_length=48, overlength="error",
        report_overlength=False,
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than max_length"):
        for _ in batches:
            pass


def test_overlength_truncate_keeps_end_and_start(validation_pairs, tokenizer, caplog):
    with caplog.at_level(logging.WARNING):
        batches = data.make_translation_batches(
            validation_pairs, tokenizer, max_length=16, tokens_per_batch=512,
            overlength="truncate", seed=0,
        )
    assert "truncated" in caplog.text
    num_pairs = 0
    for x, targets in batches.as_numpy_iterator():
        encoder, decoder = x["encoder_token_ids"], x["decoder_token_ids"]
        assert encoder.shape[1] <= 16 and decoder.shape[1] <= 16
        for row in encoder:
            assert row[np.count_nonzero(row) - 1] == tokenizer.end_id
        for row in targets:
            assert row[np.count_nonzero(row) - 1] == tokenizer.end_id
        assert np.all(decoder[:, 0] == tokenizer.start_id)
        num_pairs += len(encoder)
    assert num_pairs == 1049


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_length=0), "argument `max_length`, expected a positive integer"),
        (dict(overlength="skip"), "argument `overlength`"),
        (dict(tokens_per_batch=64, batch_size=8), "either `tokens_per_batch` or `batch_size`"),
        (dict(max_length=128, tokens_per_batch=100), "at least max_length=128"),
    ],
)
def test_batches_reject_invalid_arguments(validation_pairs, tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.make_translation_batches(validation_pairs, tokenizer, **kwargs)


def test_batches_reject_a_dataset_that_is_not_string_pairs(tokenizer):
    ids = tf.data.Dataset.from_tensor_slices([1, 2, 3])
    with pytest.raises(ValueError, match="argument `pairs_dataset`"):
        data.make_translation_batches(ids, tokenizer)


def test_encode_for_translation(tokenizer):
    ids = data.encode_for_translation(["the LORD", "In the beginning God"], tokenizer, 32)
    assert ids.dtype == np.int32 and ids.shape[0] == 2
    lengths = np.count_nonzero(ids, axis=1)
    assert ids[0, lengths[0] - 1] == ids[1, lengths[1] - 1] == tokenizer.end_id
    assert tokenizer.decode(ids) == ["the LORD", "In the beginning God"]
    long_text = "And God said, Let there be light: and there was light."
    with pytest.raises(ValueError, match=r"1 of 1 texts do not fit max_length=4"):
        data.encode_for_translation([long_text], tokenizer, 4)
    truncated = data.encode_for_translation([long_text], tokenizer, 4, overlength="truncate")
    assert truncated.shape == (1, 4) and truncated[0, -1] == tokenizer.end_id
    with pytest.raises(ValueError, match="nothing can be dropped"):
        data.encode_for_translation([long_text], tokenizer, 4, overlength="drop")


def test_batches_train_the_translation_model(validation_pairs, tokenizer):
    from keras_transformer.models import Seq2SeqTransformer

    batches = data.make_translation_batches(
        validation_pairs.take(64), tokenizer, max_length=64, tokens_per_batch=1024, seed=0
    )
    model = Seq2SeqTransformer.from_preset(
        "cpu_tiny", encoder_vocabulary_size=tokenizer.vocabulary_size
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    history = model.fit(batches, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
