"""From a fine-tuned BERT task model and its tokenizer to verified serving
artifacts."""

import dataclasses
import datetime
import json
import os
import pathlib

import keras

from keras_transformer.data import BertTokenizer
from keras_transformer.data import prepare_qa_features
from keras_transformer.evaluation import extract_entities
from keras_transformer.export import encoder_signatures
from keras_transformer.export import export_steps
from keras_transformer.export import layout
from keras_transformer.export.encoder_onnx_export import export_encoder_onnx
from keras_transformer.export.encoder_serving_module import EncoderServingModule
from keras_transformer.export.encoder_signatures import CLASSIFICATION
from keras_transformer.export.encoder_signatures import QUESTION_ANSWERING
from keras_transformer.export.encoder_signatures import TASKS
from keras_transformer.export.encoder_signatures import TOKEN_CLASSIFICATION
from keras_transformer.export.encoder_verification import verify_encoder_onnx
from keras_transformer.export.encoder_verification import verify_encoder_saved_model
from keras_transformer.export.onnx_export import DEFAULT_OPSET
from keras_transformer.export.precision import as_float32
from keras_transformer.export.qa_config import QaConfig
from keras_transformer.export.verification import LOGITS_ATOL
from keras_transformer.export.versions import package_versions
from keras_transformer.layers import checks
from keras_transformer.models import BertClassifier
from keras_transformer.models import BertSpanExtractor
from keras_transformer.models import BertTokenClassifier

TASK_OF_CLASS = (
    (BertTokenClassifier, TOKEN_CLASSIFICATION),
    (BertSpanExtractor, QUESTION_ANSWERING),
    (BertClassifier, CLASSIFICATION),
)


def export_encoder_model(
    model,
    tokenizer,
    output_dir,
    name,
    version=1,
    formats=layout.FORMATS,
    task=None,
    labels=None,
    qa_config=None,
    opset=DEFAULT_OPSET,
    overwrite=False,
    large_model=None,
):
    """Exports a fine-tuned BERT task model for serving, verified.

    Writes `output_dir/name/version/` in TF Serving's layout (see
    `keras_transformer.export.layout`): the SavedModel, whose
    `serving_default` takes `token_ids`, `segment_ids` and `padding_mask`
    (B, T) int32 and returns the model's outputs (see
    `keras_transformer.export.encoder_signatures`); `forward.onnx`, the
    same function for onnxruntime; the tokenizer (`BertTokenizer.save`);
    and a manifest with the task, labels and settings the server's text
    signatures need. Each artifact is loaded back and compared with the
    Keras model (`keras_transformer.export.encoder_verification`) before
    the version folder appears under its final name; a failed check raises
    `VerificationError` and leaves nothing behind.

    A mixed-precision model is exported in float32 (its float32 weights in
    a float32 copy of the model).

    Args:
        model: A `BertTokenClassifier`, `BertSpanExtractor` or
            `BertClassifier` (or another model with their input dict, an
            `encoder` and the outputs of `task`), or the path of one saved
            as `.keras`.
        tokenizer: Its `BertTokenizer`, or the folder it was saved to.
        output_dir: The export root: TF Serving's model base path is
            `output_dir/name`.
        name: The model name (letters, digits, '-', '_', '.').
        version: A positive integer version.
        formats: Any of "savedmodel" and "onnx" (a list, or a comma-separated
            string).
        task: "token_classification", "question_answering" or
            "classification"; `None` infers it from the model's class.
        labels: The names of the L tags (token classification, required:
            IOB2 tags such as "B-PER" and "O", e.g. the `tags.json` of
            `examples/finetune_ner.py`) or of the C classes (optional;
            default "0", "1", ...), as a list or the path of a JSON list or
            of a file with one name per line. `None` for question answering.
        qa_config: Question answering only: a `QaConfig`, a dict of its
            fields, or the path of a JSON file of them (the `qa_config.json`
            of `examples/finetune_qa.py`); `None`: `QaConfig.for_model`.
        opset: ONNX opset, 17 or 18.
        overwrite: Replace an existing version folder.
        large_model: ONNX external data for the weights; `None` decides by
            size.

    Returns:
        The manifest (a dict, also written to
        `assets.extra/export.json`), with the version folder under "path".
    """
    formats, final_path = export_steps.check_export_arguments(
        output_dir, name, version, formats, opset, overwrite
    )
    model, tokenizer = _load(model, tokenizer)
    task, num_labels = _task_and_num_labels(model, task)
    labels = _labels(task, labels, num_labels)
    qa = _qa_config(task, qa_config, tokenizer, model.encoder.max_sequence_length)
    trained_policy = getattr(model.encoder, "dtype_policy", model.dtype_policy).name
    model = as_float32(model)

    def write_onnx(directory):
        paths = export_encoder_onnx(
            model, task, directory, opset=opset, large_model=large_model
        )
        return paths, verify_encoder_onnx(paths["forward"], model, task, tokenizer)

    return export_steps.write_verified_export(
        final_path, tokenizer, formats, opset,
        write_saved_model=lambda path: _export_saved_model(model, task, tokenizer, path),
        write_onnx=write_onnx,
        make_manifest=lambda onnx_info, records: _manifest(
            name, version, formats, model, task, labels, qa, trained_policy,
            tokenizer, onnx_info, records,
        ),
    )


def read_labels(path):
    """Label names from a JSON list or a file with one name per line."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    return labels


def _export_saved_model(model, task, tokenizer, path):
    encoder = model.encoder
    module = EncoderServingModule(
        model,
        task,
        vocabulary_size=encoder.vocabulary_size,
        num_segments=getattr(encoder, "num_segments", 2),
        max_sequence_length=encoder.max_sequence_length,
    )
    return export_steps.save_and_verify_saved_model(
        module, path,
        lambda loaded: verify_encoder_saved_model(loaded, model, task, tokenizer),
    )


def _load(model, tokenizer):
    expected = (
        "a BertTokenClassifier, BertSpanExtractor or BertClassifier (a model "
        "with the input dict of BertEncoder and an `encoder`), or the path of "
        "a .keras file"
    )
    model = export_steps.load_keras_model(model, expected)
    encoder = getattr(model, "encoder", None)
    if (
        not isinstance(model, keras.Model)
        or not hasattr(encoder, "max_sequence_length")
        or not hasattr(encoder, "vocabulary_size")
        or not isinstance(model.input, dict)
        or set(model.input) != set(encoder_signatures.INPUT_NAMES)
    ):
        raise checks.invalid_argument("model", expected, type(model).__name__)
    tokenizer = export_steps.load_tokenizer(tokenizer, BertTokenizer)
    if tokenizer.vocabulary_size > encoder.vocabulary_size:
        raise ValueError(
            "The tokenizer does not match the model: its vocabulary has "
            f"{tokenizer.vocabulary_size} ids, the encoder's embedding "
            f"vocabulary_size={encoder.vocabulary_size}."
        )
    return model, tokenizer


def _task_and_num_labels(model, task):
    """The task (checked against the class and the outputs) and L or C."""
    inferred = next((t for cls, t in TASK_OF_CLASS if isinstance(model, cls)), None)
    if task is None:
        if inferred is None:
            raise checks.invalid_argument(
                "task", f"one of {list(TASKS)} for a model of class "
                f"{type(model).__name__}", task,
            )
        task = inferred
    checks.one_of("task", task, TASKS)
    if inferred is not None and task != inferred:
        raise checks.invalid_argument(
            "task", f"{inferred!r} (or None) for a {type(model).__name__}", task
        )
    output = model.output
    if task == QUESTION_ANSWERING:
        names = encoder_signatures.output_names(task)
        if not isinstance(output, dict) or any(
            name not in output or len(output[name].shape) != 2 for name in names
        ):
            raise ValueError(
                f"A question answering model must return a dict with {list(names)}, "
                f"each (B, T). Received: outputs={output!r}"
            )
        return task, None
    rank = 3 if task == TOKEN_CLASSIFICATION else 2
    if isinstance(output, dict) or len(output.shape) != rank:
        raise ValueError(
            f"A {task} model must return one rank-{rank} logits tensor "
            f"({'(B, T, L)' if rank == 3 else '(B, C)'}). Received: outputs={output!r}"
        )
    return task, int(output.shape[-1])


def _labels(task, labels, num_labels):
    if isinstance(labels, (str, os.PathLike)):
        labels = read_labels(labels)
    if task == QUESTION_ANSWERING:
        if labels is not None:
            raise checks.invalid_argument(
                "labels", "None for a question answering model", labels
            )
        return None
    if labels is None:
        if task == TOKEN_CLASSIFICATION:
            raise ValueError(
                "Received no `labels` for a token classification model: the "
                "server's `entities` signature decodes IOB2 tags by name. Pass "
                f"the names of its {num_labels} tags in id order, e.g. the "
                "tags.json of examples/finetune_ner.py."
            )
        labels = [str(i) for i in range(num_labels)]
    labels = list(labels) if isinstance(labels, (list, tuple)) else labels
    if (
        not isinstance(labels, list)
        or len(labels) != num_labels
        or not all(isinstance(label, str) and label for label in labels)
        or len(set(labels)) != len(labels)
    ):
        raise checks.invalid_argument(
            "labels", f"{num_labels} distinct non-empty names (one per output "
            "of the model)", labels,
        )
    if task == TOKEN_CLASSIFICATION:
        extract_entities(labels)  # Raises for a tag that is not IOB.
        if "O" not in labels:
            raise checks.invalid_argument(
                "labels", "IOB2 tags including 'O' (outside any entity)", labels
            )
    return labels


def _qa_config(task, qa_config, tokenizer, max_sequence_length):
    if task != QUESTION_ANSWERING:
        if qa_config is not None:
            raise checks.invalid_argument(
                "qa_config", "None for a model that is not a question answering "
                "model", qa_config,
            )
        return None
    if isinstance(qa_config, (str, os.PathLike)):
        qa_config = json.loads(pathlib.Path(qa_config).read_text(encoding="utf-8"))
    if qa_config is None:
        qa_config = {}
    if isinstance(qa_config, dict):
        unknown = sorted(set(qa_config) - {f.name for f in dataclasses.fields(QaConfig)})
        if unknown:
            raise checks.invalid_argument(
                "qa_config", f"the fields of QaConfig (unknown: {unknown})", qa_config
            )
        qa_config = QaConfig.for_model(max_sequence_length, **qa_config)
    if not isinstance(qa_config, QaConfig):
        raise checks.invalid_argument(
            "qa_config", "a QaConfig, a dict or a JSON file path", qa_config
        )
    if qa_config.max_length > max_sequence_length:
        raise checks.invalid_argument(
            "qa_config", "a max_length of at most the encoder's "
            f"max_sequence_length={max_sequence_length}", qa_config,
        )
    # Checks the window arguments together, as the server will use them.
    prepare_qa_features([], tokenizer, **qa_config.window_args())
    return qa_config


def _manifest(name, version, formats, model, task, labels, qa, trained_policy,
              tokenizer, onnx_info, records):
    encoder = model.encoder
    specs = encoder_signatures.signature_specs(task, len(labels) if labels else None)
    return {
        "format_version": layout.MANIFEST_FORMAT_VERSION,
        "kind": layout.KIND_ENCODER,
        "task": task,
        "name": name,
        "version": version,
        "formats": formats,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "model": {
            **export_steps.model_manifest(model, trained_policy),
            "vocabulary_size": encoder.vocabulary_size,
            "num_segments": getattr(encoder, "num_segments", 2),
        },
        "max_sequence_length": encoder.max_sequence_length,
        "labels": labels,
        "question_answering": qa.to_json() if qa else None,
        "tokenizer": {
            "path": export_steps.TOKENIZER_PATH,
            "class": type(tokenizer).__name__,
            "vocabulary_size": tokenizer.vocabulary_size,
            "lowercase": tokenizer.lowercase,
        },
        "signatures": {
            signature: {
                **export_steps.spec_manifest(spec),
                "server_side": encoder_signatures.is_server_side(signature),
            }
            for signature, spec in specs.items()
        },
        "onnx": onnx_info,
        "verification": {"logits_atol": LOGITS_ATOL, "checks": records},
        "versions": package_versions(),
    }
