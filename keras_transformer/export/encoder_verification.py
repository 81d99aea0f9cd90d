"""A BERT task model's export is run and compared with Keras before it counts.

The inputs are ones no trace saw (every graph is traced with dynamic
axes): batches of (B, T) = (1, 7), (3, 12), (4, 5) and (2, the model's
maximum length) random ids, [CLS] first and [SEP] last in each row, every
row but the first padded to a random length, segment 1 on the second part
of each row; and a question / context pair tokenized by the export's
tokenizer when it fits.

* outputs: each output of the SavedModel's `serving_default` and of
  `forward.onnx` against the Keras model's call, at every position
  (padded ones included): max absolute difference <= `LOGITS_ATOL`
  (1e-4), the tolerance of the translation export.
* ONNX graph: only standard ONNX ops of its opset, `onnx.checker` passes,
  onnxruntime loads it (`check_onnx_graph`).

A failed comparison raises `VerificationError` naming the check, the
shape, the difference and the tolerance.
"""

import numpy as np

from keras_transformer.export import encoder_signatures
from keras_transformer.export.onnx_encoder import OnnxEncoder
from keras_transformer.export.verification import check_onnx_graph
from keras_transformer.export.verification import compare_logits
from keras_transformer.export.verification import raise_on_failure
from keras_transformer.export.verification import random_ids

# (B, T) of the random inputs; T is capped at the model's maximum length,
# which is checked as well.
SHAPES = ((1, 7), (3, 12), (4, 5))
VERIFY_PAIR = ("Who built the ark?", "Noah built the ark of gopher wood.")
_SEED = 20240612


def verification_inputs(tokenizer, encoder):
    """Yields `([B, T], inputs)`: the model input dicts of the checks.

    Args:
        tokenizer: The export's `BertTokenizer`.
        encoder: The model's `BertEncoder` (for V, the maximum length and
            the number of segments).
    """
    max_length = encoder.max_sequence_length
    num_segments = getattr(encoder, "num_segments", 2)
    rng = np.random.default_rng(_SEED)
    for i, (batch, length) in enumerate((*SHAPES, (2, max_length))):
        length = min(length, max_length)
        # Real ids in [4, V), 0 after each row's length.
        ids = random_ids(batch, length, encoder.vocabulary_size, _SEED + i)
        padding_mask = (ids != 0).astype(np.int32)
        lengths = padding_mask.sum(axis=1)
        token_ids = np.where(padding_mask == 1, ids, tokenizer.pad_id).astype(np.int32)
        segment_ids = np.zeros_like(token_ids)
        for row, row_length in enumerate(lengths):
            token_ids[row, row_length - 1] = tokenizer.sep_id
            token_ids[row, 0] = tokenizer.cls_id
            if num_segments > 1 and row_length > 2:
                split = int(rng.integers(1, row_length - 1))
                segment_ids[row, split:row_length] = 1
        yield [batch, length], {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": padding_mask,
        }
    encoding = tokenizer.encode(*VERIFY_PAIR)
    if len(encoding) <= max_length:
        yield [1, len(encoding)], {
            "token_ids": np.array([encoding.token_ids], np.int32),
            "segment_ids": np.array([encoding.segment_ids], np.int32)
            if num_segments > 1 else np.zeros((1, len(encoding)), np.int32),
            "padding_mask": np.ones((1, len(encoding)), np.int32),
        }


def keras_outputs(model, task, inputs):
    """The Keras model's outputs as {name: float32 array}."""
    outputs = encoder_signatures.name_outputs(task, model(inputs, training=False))
    return {name: np.asarray(value, np.float32) for name, value in outputs.items()}


def verify_encoder_saved_model(loaded, model, task, tokenizer):
    """Compares a loaded SavedModel's `serving_default` with the Keras model.

    Args:
        loaded: `tf.saved_model.load(path)` of the export.
        model: The (float32) task model that was exported.
        task: Its task (`encoder_signatures.TASKS`).
        tokenizer: The export's `BertTokenizer`.

    Returns:
        A list of check records (dicts); raises `VerificationError` if any
        failed.
    """
    function = loaded.signatures[encoder_signatures.SERVING_DEFAULT]

    def run(inputs):
        return {name: value.numpy() for name, value in function(**inputs).items()}

    records = _compare_all("savedmodel", run, model, task, tokenizer)
    raise_on_failure(records)
    return records


def verify_encoder_onnx(path, model, task, tokenizer):
    """Checks `forward.onnx` and compares it with the Keras model.

    Args:
        path: The `forward.onnx` file `export_encoder_onnx` wrote.
        model: The (float32) task model that was exported.
        task: Its task.
        tokenizer: The export's `BertTokenizer`.

    Returns:
        A list of check records (dicts); raises `VerificationError` if any
        failed.
    """
    check_onnx_graph(path)
    records = [{"artifact": "onnx", "check": "graph:forward", "passed": True}]
    records += _compare_all("onnx", OnnxEncoder(path), model, task, tokenizer)
    raise_on_failure(records)
    return records


def _compare_all(artifact, run, model, task, tokenizer):
    records = []
    for shape, inputs in verification_inputs(tokenizer, model.encoder):
        got = run(inputs)
        expected = keras_outputs(model, task, inputs)
        for name in encoder_signatures.output_names(task):
            records.append(
                compare_logits(artifact, f"serving_default:{name}", shape,
                               got[name], expected[name])
            )
    return records
