"""Your own parallel files: split names, held-out splits, bare folder paths,
the direction, the tokenizer record, and the steps and tokens a run counts."""

import importlib
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer
from keras_transformer.data import SubwordTokenizer
from keras_transformer.data import load_translation
from keras_transformer.data import load_translation_splits
from keras_transformer.data import prepare_tokenizer
from keras_transformer.data import tokenizer_record
from keras_transformer.jobs import translation_run
from keras_transformer.training import MaskedSparseCrossentropy
from keras_transformer.training.token_count import TokenCount

ENGLISH = [f"the {n} cats sat on mat {n}" for n in range(40)]
FRENCH = [f"les {n} chats sur le tapis {n}" for n in range(40)]


def write_split(folder, split, english, french):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"en.{split}.txt").write_text("\n".join(english) + "\n", encoding="utf-8")
    (folder / f"fr.{split}.txt").write_text("\n".join(french) + "\n", encoding="utf-8")


def texts(pairs):
    return [(s.decode(), t.decode()) for s, t in pairs.as_numpy_iterator()]


@pytest.mark.parametrize("name", ["dev", "valid", "val", "development", "validation"])
def test_validation_files_under_their_usual_names(tmp_path, name, caplog):
    write_split(tmp_path, "train", ENGLISH[:10], FRENCH[:10])
    write_split(tmp_path, name, ENGLISH[10:13], FRENCH[10:13])
    write_split(tmp_path, "testing", ENGLISH[13:15], FRENCH[13:15])
    splits = load_translation_splits(f"folder:{tmp_path}", source_language="en")
    assert splits.sources == {"train": "train", "validation": name, "test": "testing"}
    assert splits.sizes == {"train": 10, "validation": 3, "test": 2}
    assert splits.notes == ()
    assert texts(splits.validation) == list(zip(ENGLISH[10:13], FRENCH[10:13]))
    assert texts(splits.test) == list(zip(ENGLISH[13:15], FRENCH[13:15]))
    # load_translation itself reads the alias, and says so.
    with caplog.at_level(logging.INFO, logger="keras_transformer"):
        pairs, info = load_translation(str(tmp_path), "validation", source_language="en")
    assert info.split == name and texts(pairs) == texts(splits.validation)
    if name != "validation":
        assert f"has no split 'validation'; reading '{name}'" in caplog.text


def test_train_and_test_only_holds_validation_out_of_train(tmp_path, caplog):
    write_split(tmp_path, "train", ENGLISH, FRENCH)
    write_split(tmp_path, "test", ["a dog"], ["un chien"])
    with caplog.at_level(logging.INFO, logger="keras_transformer"):
        splits = load_translation_splits(str(tmp_path), target_language="fr", seed=3)
    # 5% of 40 pairs.
    assert splits.sizes == {"train": 38, "validation": 2, "test": 1}
    assert splits.sources["validation"] == "held out of train"
    assert "no validation split: holding out 2 of the 40 training pairs" in caplog.text
    assert splits.notes and "seed 3" in splits.notes[0]
    train, validation = texts(splits.train), texts(splits.validation)
    everything = list(zip(ENGLISH, FRENCH))
    # A partition of the training pairs, each part in the file's order.
    assert sorted(train + validation) == sorted(everything)
    assert not set(train) & set(validation)
    assert train == [pair for pair in everything if pair in set(train)]
    # The same sample every time with a seed; another seed, another sample.
    again = load_translation_splits(str(tmp_path), target_language="fr", seed=3)
    assert texts(again.validation) == validation and texts(again.train) == train
    other = load_translation_splits(str(tmp_path), target_language="fr", seed=4)
    assert texts(other.validation) != validation


def test_train_only_holds_out_both_without_overlap(tmp_path):
    write_split(tmp_path, "training", ENGLISH, FRENCH)
    splits = load_translation_splits(str(tmp_path), train_split="training",
                                     source_language="en", held_out_size=5)
    assert splits.sizes == {"train": 30, "validation": 5, "test": 5}
    parts = [set(texts(getattr(splits, kind))) for kind in ("train", "validation", "test")]
    assert set.union(*parts) == set(zip(ENGLISH, FRENCH))
    assert sum(map(len, parts)) == 40
    assert len(splits.notes) == 2


def test_too_few_pairs_to_hold_out(tmp_path):
    write_split(tmp_path, "train", ENGLISH[:2], FRENCH[:2])
    with pytest.raises(ValueError, match=r"no validation or test split, and its 2 "
                                         r"training pairs are too few"):
        load_translation_splits(str(tmp_path), source_language="en")
    with pytest.raises(ValueError, match="held_out_size=0"):
        load_translation_splits(str(tmp_path), source_language="en", held_out_size=0)


def test_bare_folder_name_reads_like_folder_prefix(tmp_path, monkeypatch):
    write_split(tmp_path / "mydata", "train", ENGLISH[:4], FRENCH[:4])
    monkeypatch.chdir(tmp_path)
    bare, bare_info = load_translation("mydata", source_language="fr")
    prefixed, _ = load_translation("folder:mydata", source_language="fr")
    assert texts(bare) == texts(prefixed) == list(zip(FRENCH[:4], ENGLISH[:4]))
    assert bare_info.folder == "mydata" and bare_info.splits == ("train",)
    # TFDS slicing works on folders too, under an alias.
    sliced, info = load_translation("mydata", "training[1:3]", source_language="fr")
    assert texts(sliced) == list(zip(FRENCH[1:3], ENGLISH[1:3]))
    assert info.num_examples == 2


def test_folder_named_like_a_tfds_dataset_is_ambiguous(tmp_path, monkeypatch):
    write_split(tmp_path / "bible_en_es", "train", ENGLISH[:4], FRENCH[:4])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"ambiguous value for argument `dataset`.*"
                                         r"folder:bible_en_es"):
        load_translation("bible_en_es")
    pairs, _ = load_translation("./bible_en_es", source_language="en")
    assert texts(pairs)[0] == (ENGLISH[0], FRENCH[0])


def test_folder_direction_is_the_users_or_loudly_alphabetical(tmp_path, caplog):
    write_split(tmp_path, "train", ENGLISH[:3], FRENCH[:3])
    with caplog.at_level(logging.WARNING):
        pairs, info = load_translation(str(tmp_path))
    assert (info.direction, info.direction_from) == ("en -> fr", "alphabetical order")
    assert "translating en -> fr (the first language in alphabetical order" in caplog.text
    banner = translation_run.direction_banner(info)
    assert "DIRECTION: en -> fr (chosen by alphabetical order" in banner
    assert "--source-language fr trains fr -> en" in banner
    caplog.clear()
    for languages, expected in ((dict(source_language="fr"), ("fr", "en")),
                                (dict(target_language="en"), ("fr", "en")),
                                (dict(source_language="en"), ("en", "fr"))):
        pairs, info = load_translation(str(tmp_path), **languages)
        assert (info.source_language, info.target_language) == expected
        assert info.direction_from == "arguments"
        assert texts(pairs)[0] == (ENGLISH[0], FRENCH[0])[:: 1 if expected[0] == "en" else -1]
        assert "DIRECTION: " + " -> ".join(expected) + " (as --source-language" in (
            translation_run.direction_banner(info))
    assert "alphabetical" not in caplog.text
    with pytest.raises(ValueError, match=r"source_language.*Received: source_language='de'"):
        load_translation(str(tmp_path), source_language="de")


def test_tokenizer_reused_only_for_the_same_texts_and_settings(tmp_path):
    folder = tmp_path / "run" / "tokenizer"
    corpus = ENGLISH + FRENCH
    tokenizer, reused = prepare_tokenizer(folder, corpus, vocabulary_size=300,
                                          data={"dataset": "mine"})
    assert not reused
    record = tokenizer_record.read_record(folder)
    assert record["texts_sha256"] == tokenizer_record.texts_fingerprint(corpus)
    assert (record["num_texts"], record["vocabulary_size"], record["data"]) == (
        80, 300, {"dataset": "mine"})
    again, reused = prepare_tokenizer(folder, corpus, vocabulary_size=300)
    assert reused and again.model_proto == tokenizer.model_proto

    with pytest.raises(ValueError, match=r"Refusing to reuse the tokenizer in .*"
                                         r"texts_sha256.*Received: --output-dir="):
        prepare_tokenizer(folder, corpus[::-1], vocabulary_size=300, argument="--output-dir")
    with pytest.raises(ValueError, match=r"vocabulary_size: 300 then, 280 now"):
        prepare_tokenizer(folder, corpus, vocabulary_size=280)
    # Nothing was overwritten by the refusals.
    assert SubwordTokenizer.load(folder).model_proto == tokenizer.model_proto

    (folder / tokenizer_record.RECORD_FILENAME).unlink()
    with pytest.raises(ValueError, match="has no training_data.json"):
        prepare_tokenizer(folder, corpus, vocabulary_size=300)


def test_token_count_closed_form_and_config():
    metric = TokenCount(pad_id=0)
    metric.update_state(np.array([[4, 5, 0, 0], [6, 0, 0, 0]]), np.zeros((2, 4, 8)))
    metric.update_state(np.array([[1, 1, 1, 1]]), np.zeros((1, 4, 8)))
    assert int(metric.result()) == 7
    metric.reset_state()
    assert int(metric.result()) == 0
    restored = TokenCount.from_config(TokenCount(pad_id=3, name="n").get_config())
    assert (restored.pad_id, restored.name) == (3, "n")


def tiny_setup():
    """A small model and padded label batches: the tally needs no Transformer."""
    rng = np.random.default_rng(0)
    inputs = rng.integers(1, 10, size=(24, 5))
    labels = rng.integers(1, 10, size=(24, 5)) * (rng.random((24, 5)) < 0.6)
    batches = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    model = keras.Sequential([keras.layers.Embedding(10, 8), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=MaskedSparseCrossentropy(), metrics=[TokenCount()])
    counts = [int(np.count_nonzero(y)) for _, y in batches.as_numpy_iterator()]
    return model, batches, counts


class StopAtStep(keras.callbacks.Callback):
    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch + 1) == (self.epoch, self.step):
            self.model.stop_training = True


def test_tally_counts_the_steps_and_tokens_fit_trained_on():
    model, batches, labels = tiny_setup()
    steps = len(labels)
    assert steps >= 3
    lines = []
    tally = translation_run.TrainingTally(print_fn=lines.append)
    # A full epoch, then an epoch cut at step 2 (as the time budget does).
    history = model.fit(batches, epochs=3, validation_data=batches.take(1),
                        callbacks=[StopAtStep(1, 2), tally], verbose=0)
    assert tally.epoch_steps == [steps, 2]
    assert tally.steps == steps + 2 == int(model.optimizer.iterations.numpy())
    # The same batches in the same order: the tokens of a full epoch + 2 batches.
    assert translation_run.tokens_trained(history) == sum(labels) + sum(labels[:2])
    assert history.history["tokens"] == [sum(labels), sum(labels[:2])]
    # Validation does not leak into the training count.
    assert history.history["val_tokens"] == [labels[0]] * 2
    assert lines == [f"[train] epoch 2 stopped early: 2 of its {steps} steps ran"]
    assert tally.summary()["steps_trained"] == steps + 2


def test_hypotheses_file_has_one_line_per_sentence(tmp_path):
    path = tmp_path / "hypotheses.txt"
    changed = translation_run.write_hypotheses(path, ["un chat", "", "deux\nchats", "trois"])
    assert changed == 1
    assert path.read_text(encoding="utf-8").split("\n") == [
        "un chat", "", "deux chats", "trois", ""]


def test_package_exposes_its_subpackages():
    for name in ("layers", "models", "training", "data", "generation", "translation",
                 "evaluation", "export", "serving"):
        assert getattr(keras_transformer, name) is importlib.import_module(
            f"keras_transformer.{name}")
        assert name in dir(keras_transformer) and name in keras_transformer.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        keras_transformer.nothing  # noqa: B018
    # The custom objects of a saved translation model are registered.
    for name in ("MaskedAccuracy", "MaskedSparseCrossentropy", "TokenCount",
                 "TransformerSchedule", "WarmupLinearDecay", "Seq2SeqTransformer",
                 "TransformerDecoderBlock"):
        assert keras.saving.get_registered_object(f"keras_transformer>{name}"), name
