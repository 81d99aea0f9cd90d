"""`Translator` (text in, text out) and the translation training script."""

import json

import keras
import numpy as np
import pytest

from keras_transformer.jobs import train_translation
from keras_transformer.data import SubwordTokenizer
from keras_transformer.generation import beam_search
from keras_transformer.generation import greedy_search
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.translation import Translator

SENTENCES = [
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "Jesus wept.",
    "And the evening and the morning were the first day.",
] * 10


@pytest.fixture(scope="module")
def tokenizer():
    return SubwordTokenizer.train(SENTENCES, vocabulary_size=300)


@pytest.fixture(scope="module")
def model(tokenizer):
    keras.utils.set_random_seed(0)
    return Seq2SeqTransformer.from_preset(
        "cpu_tiny", encoder_vocabulary_size=tokenizer.vocabulary_size,
        max_sequence_length=96,
    )


def test_translate_matches_the_search_on_each_sentence(model, tokenizer):
    translator = Translator(model, tokenizer, beam_width=1, batch_size=3)
    texts = SENTENCES[:4]
    ids = translator.encode(texts)
    outputs = translator.translate_ids(ids)
    # Batched, sorted by length and padded, each sentence decodes as alone.
    for source, output in zip(ids, outputs):
        alone = greedy_search(model, np.array([source], "int32"),
                              translator.max_output_length, 2, 3)
        limit = int(2.0 * len(source)) + 10
        np.testing.assert_array_equal(output[:limit], np.asarray(alone)[0][:limit])
    assert translator.translate(texts) == tokenizer.decode(outputs)


def test_beam_translation_runs(model, tokenizer):
    translator = Translator(model, tokenizer, beam_width=3)
    ids = translator.encode(SENTENCES[:2])
    beam, _ = beam_search(model, np.array([ids[0]], "int32"),
                          int(2.0 * len(ids[0])) + 10, 2, 3, beam_width=3)
    assert translator.translate_ids(ids[:1])[0] == np.asarray(beam)[0].tolist()


def test_bad_input(model, tokenizer):
    translator = Translator(model, tokenizer)
    with pytest.raises(ValueError, match="list of strings"):
        translator.translate("Jesus wept.")
    with pytest.raises(ValueError, match=r"texts\[1\]=' '"):
        translator.translate(["Jesus wept.", " "])
    long_text = " ".join(["light"] * 200)
    with pytest.raises(ValueError, match="more than the model's maximum of 96"):
        translator.translate([long_text])
    truncating = Translator(model, tokenizer, overlength="truncate")
    assert len(truncating.encode([long_text])[0]) == 96
    small_model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=50)
    with pytest.raises(ValueError, match="does not match the model"):
        Translator(small_model, tokenizer)
    with pytest.raises(ValueError, match="beam_width=0"):
        Translator(model, tokenizer, beam_width=0)
    assert translator.translate([]) == []


def test_training_script_runs_end_to_end(tmp_path):
    metrics = train_translation.main([
        "--preset", "cpu_tiny", "--train-split", "train[:600]",
        "--vocabulary-size", "400", "--max-length", "64", "--epochs", "1",
        "--steps-per-epoch", "3", "--eval-sentences", "4", "--beam-width", "2",
        "--mixed-precision", "off", "--data-dir", str(tmp_path / "tfds"),
        "--output-dir", str(tmp_path / "run"),
    ])
    assert 0.0 <= metrics["bleu"] <= 100.0
    assert metrics["test_sentences"] == 4
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["bleu"] == metrics["bleu"]
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    tokenizer = SubwordTokenizer.load(tmp_path / "run" / "tokenizer")
    assert model.encoder_vocabulary_size == tokenizer.vocabulary_size
