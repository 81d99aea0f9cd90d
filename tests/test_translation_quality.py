"""What the translation job reports about quality: repetition, progress, schedule."""

import json

import keras
import pytest

from keras_transformer.data import SubwordTokenizer
from keras_transformer.evaluation import repeats_ngram
from keras_transformer.evaluation import repetition_rate
from keras_transformer.jobs import train_translation
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.translation import Translator

SENTENCES = [
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "Jesus wept.",
    "And the evening and the morning were the first day.",
    "And God called the light Day, and the darkness he called Night.",
]


def test_repeats_ngram_counts_overlapping_13a_ngrams():
    # 13a splits off the commas: "y sus hijos ," is a 4-token cycle, so three
    # cycles hold each 4-gram twice and four cycles three times.
    assert not repeats_ngram("y sus hijos, y sus hijos, y sus hijos")
    assert repeats_ngram("y sus hijos, y sus hijos, y sus hijos, y sus hijos")
    # Overlapping occurrences count: 6 equal words hold "a a a a" three times.
    assert repeats_ngram("a a a a a a")
    assert not repeats_ngram("a a a a a")
    assert repeats_ngram("a b a b a b", n=2, min_count=3)
    assert not repeats_ngram("", n=4)


def test_repetition_rate_is_the_share_of_looping_texts():
    loop = "and the and the and the and the and the"
    assert repetition_rate([loop, "a b c d e", loop, "f g"]) == 0.5
    assert repetition_rate(["a b c d e f g h"]) == 0.0
    with pytest.raises(ValueError, match="texts"):
        repetition_rate([])
    with pytest.raises(ValueError, match="texts"):
        repetition_rate("a b c d a b c d a b c d")
    with pytest.raises(ValueError, match="min_count=0"):
        repetition_rate(["a"], min_count=0)


def test_translate_reports_progress_and_keeps_its_output():
    tokenizer = SubwordTokenizer.train(SENTENCES * 8, vocabulary_size=300)
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer.from_preset(
        "cpu_tiny", encoder_vocabulary_size=tokenizer.vocabulary_size,
        max_sequence_length=96)
    translator = Translator(model, tokenizer, beam_width=1, batch_size=2)
    calls = []
    with_progress = translator.translate(
        SENTENCES, progress=lambda done, total: calls.append((done, total)))
    # One call per batch of 2, in order, ending with every sentence done.
    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert with_progress == translator.translate(SENTENCES)


def test_the_job_scores_a_split_with_repetition_rates_and_plots_its_rate(tmp_path):
    metrics = train_translation.main([
        "--preset", "cpu_tiny", "--train-split", "train[:400]",
        "--vocabulary-size", "400", "--max-length", "64", "--epochs", "2",
        "--steps-per-epoch", "5", "--eval-split", "validation",
        "--eval-sentences", "6", "--beam-width", "1", "--learning-rate", "1e-3",
        "--warmup-fraction", "0.2", "--mixed-precision", "off",
        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(tmp_path / "run"),
    ])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["eval_split"] == "validation"
    assert saved["test_sentences"] == 6
    assert 0.0 <= saved["repetition_rate"] <= 1.0
    assert 0.0 <= saved["reference_repetition_rate"] <= 1.0
    # The budget did not bind: the decay ends at the 10 steps asked for.
    assert saved["steps"] == 10
    assert saved["schedule"]["total_steps"] == 10
    assert saved["schedule"]["warmup_steps"] == 2
    assert saved["schedule"]["peak_learning_rate"] == 1e-3
    assert (tmp_path / "run" / "lr.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["repetition_rate"] == saved["repetition_rate"]
