"""Tiny BERT task models and a WordPiece vocabulary, saved like fine-tuning
saves them, and their exports.

Tests and the export README need a `model.keras`, a `tokenizer/` folder
and label names like `examples/finetune_ner.py` and
`examples/finetune_qa.py` write, in seconds. The weights are random (the
answers are meaningless but exactly reproducible, which is what exports
are checked against).
"""

import json
import pathlib

import keras

from keras_transformer.data import BertTokenizer
from keras_transformer.data.bert_tokenizer import SPECIAL_TOKENS
from keras_transformer.export import layout
from keras_transformer.export.encoder_exporter import export_encoder_model
from keras_transformer.export.encoder_signatures import CLASSIFICATION
from keras_transformer.export.encoder_signatures import QUESTION_ANSWERING
from keras_transformer.export.encoder_signatures import TASKS
from keras_transformer.export.encoder_signatures import TOKEN_CLASSIFICATION
from keras_transformer.layers import checks
from keras_transformer.models import BertClassifier
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertSpanExtractor
from keras_transformer.models import BertTokenClassifier

DEMO_WORDS = (
    "abram went down into egypt with sarai his wife and lot . , ? ! ' "
    "who built the ark noah of gopher wood in beginning god created heaven "
    "earth where did go what was name jesus wept bethlehem jerusalem moses "
    "led people out to land a man woman city river jordan king david"
).split()
DEMO_PIECES = ("##s", "##ed", "##ing", "##er", "##ite")
NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
CLASS_LABELS = ("negative", "neutral", "positive")
DEMO_NAMES = {
    TOKEN_CLASSIFICATION: "ner",
    QUESTION_ANSWERING: "qa",
    CLASSIFICATION: "classifier",
}


def write_demo_vocabulary(path):
    """Writes a WordPiece `vocab.txt` of the specials, `DEMO_WORDS` and
    `DEMO_PIECES`; returns its path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokens = [*SPECIAL_TOKENS, *dict.fromkeys(DEMO_WORDS), *DEMO_PIECES]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


def make_demo_encoder_model(task, vocabulary_size, max_sequence_length=32, seed=0,
                            dtype=None):
    """A random one-block BERT task model (D = 16, 2 heads).

    Args:
        task: One of `encoder_signatures.TASKS`.
        vocabulary_size: V of the encoder.
        max_sequence_length: The encoder's maximum length.
        seed: Seed of the weights.
        dtype: The encoder's dtype policy (e.g. "mixed_bfloat16").

    Returns:
        A `BertTokenClassifier` (5 IOB2 tags), `BertSpanExtractor` or
        `BertClassifier` (3 classes).
    """
    checks.one_of("task", task, TASKS)
    keras.utils.set_random_seed(seed)
    encoder = BertEncoder(
        vocabulary_size=vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=max_sequence_length, dtype=dtype,
    )
    if task == TOKEN_CLASSIFICATION:
        return BertTokenClassifier(encoder, num_labels=len(NER_LABELS))
    if task == QUESTION_ANSWERING:
        return BertSpanExtractor(encoder)
    return BertClassifier(encoder, num_classes=len(CLASS_LABELS))


def make_demo_encoder_exports(output_dir, tasks=TASKS, formats=layout.FORMATS,
                              max_sequence_length=32):
    """Verified exports of demo models, made once per `output_dir`.

    For each task, writes `output_dir/training/NAME/` (`model.keras`,
    `tokenizer/`, `labels.json`) and exports version 1 to
    `output_dir/exports/NAME/1/`, NAME from `DEMO_NAMES`. An export that
    exists already (a previous call) is reused as it is.

    Returns:
        {task: the export's manifest (with "path")}.
    """
    output_dir = pathlib.Path(output_dir)
    manifests = {}
    for task in tasks:
        name = DEMO_NAMES[checks.one_of("task", task, TASKS)]
        path = layout.version_dir(output_dir / "exports", name, 1)
        if layout.manifest_path(path).is_file():
            manifests[task] = {**layout.read_manifest(path), "path": str(path)}
            continue
        training = output_dir / "training" / name
        vocabulary = write_demo_vocabulary(training / "vocab.txt")
        tokenizer = BertTokenizer(vocabulary)
        tokenizer.save(training / "tokenizer")
        model = make_demo_encoder_model(
            task, tokenizer.vocabulary_size, max_sequence_length=max_sequence_length
        )
        model.save(training / "model.keras")
        labels = {TOKEN_CLASSIFICATION: NER_LABELS, CLASSIFICATION: CLASS_LABELS}.get(task)
        if labels:
            (training / "labels.json").write_text(json.dumps(list(labels)))
        manifests[task] = export_encoder_model(
            training / "model.keras", training / "tokenizer", output_dir / "exports",
            name=name, version=1, formats=formats,
            labels=training / "labels.json" if labels else None,
        )
    return manifests
