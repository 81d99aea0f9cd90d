"""`keras-transformer train` and `translate` as a user runs them: the
installed console command, in its own process, on a folder of their text."""

import csv
import gzip
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

from keras_transformer import cli
from keras_transformer.data import SubwordTokenizer
from keras_transformer.data import load_translation_splits
from keras_transformer.data import make_translation_batches

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMAND = pathlib.Path(sys.executable).parent / "keras-transformer"
CORPUS = ROOT / "keras_transformer" / "data" / "bible_en_es" / "test.tsv.gz"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
# Tiny settings: the point is the command, not the model.
TINY = ["--preset", "cpu_tiny", "--vocabulary-size", "400", "--max-length", "48",
        "--tokens-per-batch", "1024", "--epochs", "1", "--beam-width", "1",
        "--num-samples", "1", "--mixed-precision", "off"]


def short_verses(count, skip=0):
    """(English, Spanish) of the shortest verses of the shipped test books."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rows.sort(key=lambda row: (len(row["en"]) + len(row["es"]), row["id"]))
    return [(row["en"], row["es"]) for row in rows[skip: skip + count]]


def write_folder(folder, splits):
    folder.mkdir(parents=True)
    for split, pairs in splits.items():
        for index, language in enumerate(("en", "es")):
            lines = [pair[index] for pair in pairs]
            (folder / f"{language}.{split}.txt").write_text(
                "\n".join(lines) + "\n", encoding="utf-8")


def run(args, cwd, stdin=None):
    return subprocess.run([str(COMMAND), *args], cwd=cwd, env=ENV, input=stdin,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real `keras-transformer train` on a train + test folder, es -> en."""
    base = tmp_path_factory.mktemp("cli_train")
    verses = short_verses(43)
    # The layout of the load_translation docstring: no validation files.
    write_folder(base / "my_corpus", {"train": verses[:40], "test": verses[40:]})
    ran = run(["train", "--dataset", "my_corpus", "--source-language", "es",
               "--output-dir", "run", *TINY], cwd=base)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return base, ran.stdout, verses


def test_train_says_what_it_trains_on(trained):
    base, out, _ = trained
    assert "[data] ===== DIRECTION: es -> en (as --source-language/--target-language say)" in out
    assert "[data] validation: 2 pairs (held out of train)" in out
    assert "[data] train: 38 pairs (train)" in out
    assert "my_corpus has no validation split: holding out 2 of the 40 training pairs" in out
    record = json.loads((base / "run" / "tokenizer" / "training_data.json").read_text())
    assert record["data"]["direction"] == "es -> en"
    assert record["data"]["folder"] == str(base / "my_corpus")


def test_metrics_count_steps_and_tokens_and_hypotheses_are_written(trained):
    base, _, verses = trained
    metrics = json.loads((base / "run" / "metrics.json").read_text())
    # The reference: the same splits and tokenizer, batched as the job does.
    splits = load_translation_splits(str(base / "my_corpus"), source_language="es")
    tokenizer = SubwordTokenizer.load(base / "run" / "tokenizer")
    batches = list(make_translation_batches(
        splits.train, tokenizer, max_length=48, tokens_per_batch=1024, shuffle=False,
        report_overlength=False).as_numpy_iterator())
    # One full epoch: every training batch once, in whatever order.
    assert metrics["steps_trained"] == metrics["steps_this_run"] == len(batches)
    assert metrics["target_tokens_trained"] == sum(int((y != 0).sum()) for _, y in batches)
    assert metrics["data"]["splits"] == {"train": "train", "validation": "held out of train",
                                         "test": "test"}
    hypotheses = (base / "run" / metrics["hypotheses_file"]).read_text(encoding="utf-8")
    assert hypotheses.endswith("\n")
    assert len(hypotheses.splitlines()) == metrics["test_sentences"] == 3


def test_translate_command_matches_the_jobs_hypotheses(trained):
    base, _, verses = trained
    sources = [spanish for _, spanish in verses[40:]]
    ran = run(["translate", "--model", "run", "--beam-width", "1", *sources], cwd=base)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Translating es -> en with run/model.keras, greedy search." in ran.stderr
    # Greedy search both times: the command and the job translate alike.
    expected = (base / "run" / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    assert ran.stdout.splitlines() == expected


def test_translate_reads_stdin_lines(trained, monkeypatch, capsys):
    base, _, verses = trained
    expected = (base / "run" / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    sources = [spanish for _, spanish in verses[40:]]
    # A blank line answers a blank line, so the lines stay aligned.
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{sources[0]}\n\n{sources[2]}\n"))
    status = cli.main(["translate", "--model", str(base / "run"), "--beam-width", "1",
                       "--batch-size", "2"])
    assert status == 0
    assert capsys.readouterr().out.split("\n") == [expected[0], "", expected[2], ""]


def test_saved_model_loads_after_importing_the_package_alone(trained):
    base, _, _ = trained
    # Compiled, as saved: the schedule, loss and metrics deserialize too.
    script = (
        "import sys, numpy as np, keras, keras_transformer\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "inputs = {'encoder_token_ids': np.array([[5, 6, 3]]),\n"
        "          'decoder_token_ids': np.array([[2, 7, 8]])}\n"
        "logs = model.evaluate(inputs, np.array([[7, 8, 0]]), verbose=0, return_dict=True)\n"
        "schedule = model.optimizer.get_config()['learning_rate']['class_name']\n"
        "print(type(model).__name__, schedule,\n"
        "      int(logs['tokens']), 'masked_accuracy' in logs,\n"
        "      'tensorflow_datasets' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script, str(base / "run" / "model.keras")],
                         env=ENV, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    model_class, schedule_class, tokens, accuracy, loaded_tfds = ran.stdout.split()
    assert model_class == "Seq2SeqTransformer"
    assert schedule_class in {"TransformerSchedule", "WarmupLinearDecay"}
    assert (tokens, accuracy) == ("2", "True")  # two labels are not padding
    # The package imports TensorFlow Datasets only when data is used.
    assert loaded_tfds == "False"


def test_another_dataset_in_the_same_output_dir_is_refused(trained, capsys):
    base, _, _ = trained
    write_folder(base / "other", {"train": short_verses(40, skip=100)})
    before = {p.name: p.stat().st_mtime_ns for p in (base / "run").iterdir()}
    status = cli.main(["train", "--dataset", str(base / "other"), "--source-language", "es",
                       "--output-dir", str(base / "run"), *TINY])
    assert status == 2
    error = capsys.readouterr().err
    assert "keras-transformer train: error: Refusing to reuse the tokenizer in" in error
    assert "texts_sha256" in error and "Give this run a new folder (--output-dir)" in error
    assert {p.name: p.stat().st_mtime_ns for p in (base / "run").iterdir()} == before


@pytest.mark.slow
def test_the_same_data_and_settings_reuse_the_tokenizer(trained, capsys):
    base, _, _ = trained
    record = (base / "run" / "tokenizer" / "training_data.json").read_text()
    status = cli.main(["train", "--dataset", str(base / "my_corpus"), "--source-language",
                       "es", "--output-dir", str(base / "run"), *TINY])
    assert status == 0
    assert "[tokenizer] reusing a" in capsys.readouterr().out
    assert (base / "run" / "tokenizer" / "training_data.json").read_text() == record


@pytest.mark.slow
def test_alphabetical_direction_is_stated_loudly(tmp_path):
    write_folder(tmp_path / "corpus", {"train": short_verses(30), "dev": short_verses(2, 30),
                                       "test": short_verses(2, 32)})
    ran = run(["train", "--dataset", "corpus", "--output-dir", "run", *TINY], cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ("[data] ===== DIRECTION: en -> es (chosen by alphabetical order: a folder does "
            "not say which way to translate); --source-language es trains es -> en =====") in (
        ran.stdout)
    assert "[data] validation: 2 pairs (dev)" in ran.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["direction"] == "en -> es"
