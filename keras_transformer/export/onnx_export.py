"""ONNX export of a `Seq2SeqTransformer`: a forward pass and cached decoding.

Three graphs, converted by tf2onnx from `tf.function`s over the model's own
decoding API (`encode`, `initial_cache`, `decode_step` with growing
"append" caches, which need only `Concat`), with dynamic batch and
sequence axes:

* `forward.onnx`: `encoder_token_ids` (batch, source_length) int32,
  `decoder_token_ids` (batch, target_length) int32 -> `logits`
  (batch, target_length, V) float32. The training graph.
* `encoder.onnx`: `encoder_token_ids` -> `encoder_output`
  (batch, source_length, D) and, per decoder layer i, `cross_attention_{i}`
  (batch, 2, source_length, N, H): the encoder's projected keys (index 0)
  and values (index 1), computed once per sentence.
* `decoder_step.onnx`: `decoder_token_ids` (batch, 1) the newest token,
  `index` () int32 its position, `encoder_padding_mask` (batch,
  source_length) bool (`encoder_token_ids != 0`), and per layer i
  `past_self_attention_{i}` (batch, 2, past_length, N, H) and
  `cross_attention_{i}` -> `logits` (batch, V) for position `index + 1` and
  `present_self_attention_{i}` (batch, 2, past_length + 1, N, H). Decoding
  starts from empty (past_length 0) caches.

`keras_transformer.export.onnx_search` runs greedy and beam search over the
last two with onnxruntime.
"""

import json
import pathlib

import onnx
import tensorflow as tf

from keras_transformer.export import tf2onnx_compat
from keras_transformer.layers import checks

DEFAULT_OPSET = 17
# tf2onnx 1.17 converts up to opset 18; 17 is the default because older
# onnxruntime builds still in use run it.
SUPPORTED_OPSETS = (17, 18)
# Weights past this many bytes go to ONNX external data: a protobuf cannot
# exceed 2 GiB.
LARGE_MODEL_BYTES = 1 << 30
METADATA_KEY = "keras_transformer"


def export_onnx(model, directory, opset=DEFAULT_OPSET, large_model=None):
    """Writes `forward.onnx`, `encoder.onnx` and `decoder_step.onnx`.

    Args:
        model: A float32 `Seq2SeqTransformer` (see `as_float32`).
        directory: Folder to write into (created if missing).
        opset: ONNX opset, 17 or 18.
        large_model: Store weights as ONNX external data next to each file
            (`{part}.onnx.data`); `None` decides by size (over 1 GiB).

    Returns:
        {part name: path of its .onnx file}.
    """
    check_opset(opset)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if large_model is None:
        large_model = needs_external_data(model)
    paths = {}
    for part, (function, signature, axes) in _graphs(model).items():
        paths[part] = write_onnx_graph(
            function, signature, axes, _metadata(model, part),
            directory / f"{part}.onnx", opset, large_model,
        )
    return paths


def needs_external_data(model):
    """Whether the model's weights are too large for one ONNX protobuf."""
    return sum(w.numpy().nbytes for w in model.weights) > LARGE_MODEL_BYTES


def write_onnx_graph(function, input_signature, axes, metadata, path, opset,
                     large_model=False):
    """Converts a `tf.function` with tf2onnx and writes it to `path`.

    Args:
        function: The `tf.function`; its outputs (a dict) name the graph's
            outputs.
        input_signature: Named `tf.TensorSpec`s, the graph's inputs.
        axes: {input or output name: a name per axis, `None` for axes left
            unnamed}, e.g. `{"token_ids": ["batch", "sequence_length"]}`.
        metadata: A JSON-serializable dict stored in the model's metadata
            under `METADATA_KEY`.
        path: The `.onnx` file to write.
        opset: ONNX opset, 17 or 18.
        large_model: Store the weights as ONNX external data
            (`{path}.data`).

    Returns:
        `path`, a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    proto, storage = tf2onnx_compat.convert_function(
        function, input_signature, opset, large_model=large_model
    )
    _name_dynamic_axes(proto, axes)
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(metadata, sort_keys=True)
    _save(proto, storage, path)
    return path


def check_opset(opset):
    """Raises unless `opset` is one the export supports."""
    if opset not in SUPPORTED_OPSETS:
        raise checks.invalid_argument(
            "opset", f"one of {list(SUPPORTED_OPSETS)} (tf2onnx 1.17 converts up to 18)",
            opset,
        )
    return opset


def _graphs(model):
    """{part: (tf.function, input signature, {tensor name: axis names})}."""
    num_layers = model.num_decoder_layers
    num_heads = model.num_heads
    head_dim = model.hidden_dim // model.num_heads
    encoder_ids = tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids")
    decoder_ids = tf.TensorSpec([None, None], tf.int32, name="decoder_token_ids")

    @tf.function
    def forward(encoder_token_ids, decoder_token_ids):
        logits = model(
            {
                "encoder_token_ids": encoder_token_ids,
                "decoder_token_ids": decoder_token_ids,
            },
            training=False,
        )
        return {"logits": logits}

    @tf.function
    def encoder(encoder_token_ids):
        encoder_output, _ = model.encode(encoder_token_ids)
        outputs = {"encoder_output": encoder_output}
        for i, layer_cache in enumerate(model.initial_cache(encoder_output)):
            outputs[f"cross_attention_{i}"] = layer_cache["cross_attention"]
        return outputs

    @tf.function
    def decoder_step(decoder_token_ids, index, encoder_padding_mask, *caches):
        # caches = past_self_attention_0, cross_attention_0, past_..._1, ...
        cache = [
            {"self_attention": caches[2 * i], "cross_attention": caches[2 * i + 1]}
            for i in range(num_layers)
        ]
        # The cross-attention keys/values are in the cache, so the encoder
        # output itself is not needed.
        logits, cache = model.decode_step(
            decoder_token_ids, None, encoder_padding_mask, cache, index
        )
        outputs = {"logits": logits[:, -1]}
        for i, layer_cache in enumerate(cache):
            outputs[f"present_self_attention_{i}"] = layer_cache["self_attention"]
        return outputs

    kv_shape = [None, 2, None, num_heads, head_dim]
    step_signature = [
        tf.TensorSpec([None, 1], tf.int32, name="decoder_token_ids"),
        tf.TensorSpec([], tf.int32, name="index"),
        tf.TensorSpec([None, None], tf.bool, name="encoder_padding_mask"),
    ]
    step_axes = {
        "decoder_token_ids": ["batch", None],
        "encoder_padding_mask": ["batch", "source_length"],
        "logits": ["batch", None],
    }
    encoder_axes = {
        "encoder_token_ids": ["batch", "source_length"],
        "encoder_output": ["batch", "source_length", None],
    }
    for i in range(num_layers):
        step_signature += [
            tf.TensorSpec(kv_shape, tf.float32, name=f"past_self_attention_{i}"),
            tf.TensorSpec(kv_shape, tf.float32, name=f"cross_attention_{i}"),
        ]
        cross_axes = ["batch", None, "source_length", None, None]
        step_axes[f"past_self_attention_{i}"] = ["batch", None, "past_length", None, None]
        step_axes[f"present_self_attention_{i}"] = [
            "batch", None, "present_length", None, None,
        ]
        step_axes[f"cross_attention_{i}"] = cross_axes
        encoder_axes[f"cross_attention_{i}"] = cross_axes
    return {
        "forward": (
            forward,
            [encoder_ids, decoder_ids],
            {
                "encoder_token_ids": ["batch", "source_length"],
                "decoder_token_ids": ["batch", "target_length"],
                "logits": ["batch", "target_length", None],
            },
        ),
        "encoder": (encoder, [encoder_ids], encoder_axes),
        "decoder_step": (decoder_step, step_signature, step_axes),
    }


def _name_dynamic_axes(proto, axes):
    """Names the dynamic axes of the graph's inputs and outputs.

    tf2onnx calls them `unk__123`; names say which axes must agree (one
    batch size for every input of a call).
    """
    for value in list(proto.graph.input) + list(proto.graph.output):
        names = axes.get(value.name)
        if names is None:
            continue
        dims = value.type.tensor_type.shape.dim
        for dim, name in zip(dims, names):
            if name is not None and not dim.HasField("dim_value"):
                dim.dim_param = name


def _metadata(model, part):
    """What a runtime needs to drive the graph without Keras."""
    return {
        "part": part,
        "num_decoder_layers": model.num_decoder_layers,
        "num_heads": model.num_heads,
        "head_dim": model.hidden_dim // model.num_heads,
        "hidden_dim": model.hidden_dim,
        "encoder_vocabulary_size": model.encoder_vocabulary_size,
        "decoder_vocabulary_size": model.decoder_vocabulary_size,
        "max_sequence_length": model.max_sequence_length,
    }


def _save(proto, storage, path):
    """Writes `proto`; with tf2onnx's external storage, as external data."""
    if storage is None:
        onnx.save_model(proto, str(path))
        return
    # tf2onnx left the large tensors in `storage`, keyed by the location it
    # wrote into each tensor. Put the bytes back and let onnx write one
    # `{path}.data` file that onnxruntime finds next to the model.
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = {entry.key: entry.value for entry in tensor.external_data}["location"]
        tensor.raw_data = storage.name_to_tensor_data[location]
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
    onnx.save_model(
        proto,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{path.name}.data",
        size_threshold=1024,
    )


def _all_tensors(graph):
    """Every TensorProto of a graph: initializers and attribute tensors,
    subgraphs (loops, branches) included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _all_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_tensors(subgraph)
