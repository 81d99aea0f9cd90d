"""Question answering fine-tuning with the BERT recipe and model selection:
the dev passages held out of training, per-epoch selection on them, the
evaluation split scored once, and a slim saved model.

Runs `examples/finetune_qa.py` the way users run it: the built-in set
through TFDS and the real all-MiniLM-L6-v2 checkpoint.
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from keras_transformer import data
from keras_transformer.data import BertTokenizer
from keras_transformer.question_answering import QuestionAnswerer
from keras_transformer.training import WarmupLinearDecay

QA_DIR = Path(data.__file__).parent / "public_domain_qa_json"


def shipped_train_examples():
    with open(QA_DIR / "train.json", encoding="utf-8") as f:
        squad = json.load(f)
    return [
        {"id": qa["id"], "context": paragraph["context"], "question": qa["question"]}
        for article in squad["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def test_dev_split_holds_out_whole_evenly_spaced_passages():
    from examples.finetune_qa import split_dev

    examples = shipped_train_examples()
    contexts = list(dict.fromkeys(example["context"] for example in examples))
    assert len(contexts) == 18
    train, dev, num_passages = split_dev(examples, 0.15)
    assert num_passages == 18
    # round(0.15 * 18) = 3 passages, the middles of three equal stretches.
    held_out = [contexts[3], contexts[9], contexts[15]]
    assert [e for e in examples if e["context"] in held_out] == dev
    assert [e for e in examples if e["context"] not in held_out] == train
    assert not {e["context"] for e in train} & {e["context"] for e in dev}
    assert split_dev(examples, 0.0) == (examples, [], 18)
    # At least one passage is held out for any positive fraction, and at
    # least one is always left to train on.
    assert len({e["context"] for e in split_dev(examples, 0.01)[1]}) == 1
    assert len({e["context"] for e in split_dev(examples, 0.99)[0]}) == 1


def test_dev_fraction_must_be_below_one():
    from examples import finetune_qa

    with pytest.raises(SystemExit):
        finetune_qa.parse_args(["--dev-fraction", "1.0"])


@pytest.mark.slow
def test_example_selects_on_dev_scores_validation_once_and_saves_slim(tmp_path, capsys):
    from examples import finetune_qa

    output_dir = tmp_path / "qa"
    # The first 37 training questions are three whole passages (13 + 12 +
    # 12); a third of them is one passage for selection.
    metrics = finetune_qa.main([
        "--max-train-examples", "37", "--dev-fraction", "0.34",
        "--max-eval-examples", "4", "--epochs", "2", "--steps-per-epoch", "2",
        "--batch-size", "4", "--max-length", "96", "--doc-stride", "48",
        "--max-question-length", "32", "--learning-rate", "1e-4", "--num-samples", "0",
        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(output_dir), "--plot",
    ])
    out = capsys.readouterr().out
    assert "using the first 37 of 192 questions (--max-train-examples)" in out
    assert "dev 12 questions (1 passages, for model selection)" in out
    assert out.count("[eval] exact match") == 1
    assert metrics["training_questions"] == 25 and metrics["dev_questions"] == 12
    assert metrics["count"] == 4
    curves = metrics["curves"]
    assert len(curves["dev_f1"]) == metrics["epochs_completed"] == 2
    assert metrics["chosen_epoch"] == int(np.argmax(curves["dev_f1"])) + 1
    schedule = WarmupLinearDecay(1e-4, total_steps=4, warmup_fraction=0.1)
    np.testing.assert_allclose(curves["learning_rate"],
                               [float(schedule(step)) for step in range(4)], rtol=1e-6)
    assert (output_dir / "curves.png").stat().st_size > 0

    # Slim: no optimizer state in the saved weights; the loaded model is the
    # chosen one and answers as the run's evaluation did.
    with zipfile.ZipFile(output_dir / "model.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")))
        assert "optimizer" not in weights
    loaded = QuestionAnswerer(
        keras.saving.load_model(output_dir / "model.keras"),
        BertTokenizer.load(output_dir / "tokenizer"),
        **json.loads((output_dir / "qa_config.json").read_text()),
    )
    examples, _ = finetune_qa.load_examples("public_domain_qa", "validation",
                                            tmp_path / "tfds", 4, "eval")
    scores, _ = finetune_qa.score(loaded, examples)
    assert scores["f1"] == metrics["f1"] and scores["exact_match"] == metrics["exact_match"]
