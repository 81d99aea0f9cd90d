"""Reading Hugging Face BERT checkpoints into `BertEncoder`, without PyTorch.

Pure functions: `read_config` and `read_tensors` read `config.json` and
`model.safetensors` (with `safetensors.numpy`), `encoder_kwargs` maps the
configuration to `BertEncoder` arguments, and `convert_weights` checks every
tensor's shape against the configuration and lays the tensors out as our
layers hold them.

Layouts: a PyTorch `nn.Linear` stores its weight as (out, in); Keras kernels
are (in, out). Our attention projections have the `EinsumDense` layout of
`keras.layers.MultiHeadAttention`: query/key/value kernels (D, N, H) with
(N, H) biases, and the output kernel (N, H, D).
"""

import json
import os

import numpy as np
from safetensors.numpy import load_file

CONFIG_FILENAME = "config.json"
WEIGHTS_FILENAME = "model.safetensors"

# Task models (BertForSequenceClassification, ...) nest the encoder under
# "bert."; a bare BertModel does not.
_PREFIX = "bert."

# config.json key -> BertEncoder argument.
_CONFIG_KEYS = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_dim",
    "intermediate_size": "intermediate_dim",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "num_segments",
}


def _require_file(directory, filename):
    path = os.path.join(os.fspath(directory), filename)
    if not os.path.isfile(path):
        raise ValueError(
            f"Received an invalid value for argument `directory`, expected a "
            f"folder holding `{filename}`. Received: directory="
            f"{os.fspath(directory)!r} (no file {path!r})"
        )
    return path


def read_config(directory):
    """Returns the parsed `config.json` of a checkpoint folder."""
    with open(_require_file(directory, CONFIG_FILENAME), encoding="utf-8") as f:
        return json.load(f)


def read_tensors(directory):
    """Returns `{name: np.ndarray}` from `model.safetensors`."""
    return load_file(_require_file(directory, WEIGHTS_FILENAME))


def _unsupported(key, expected, value):
    return ValueError(
        f"Unsupported BERT configuration: `{key}` must be {expected}, which is "
        f"what BertEncoder implements. Received: {key}={value!r}"
    )


def encoder_kwargs(config):
    """Returns `BertEncoder` constructor arguments for a BERT `config.json`.

    Raises:
        ValueError: when a key is missing or names a variant this encoder
            does not implement (another activation, relative positions, a
            decoder).
    """
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise _unsupported("model_type", '"bert"', model_type)
    hidden_act = config.get("hidden_act", "gelu")
    if hidden_act != "gelu":
        raise _unsupported("hidden_act", '"gelu" (exact, erf-based)', hidden_act)
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise _unsupported("position_embedding_type", '"absolute"', position_type)
    if config.get("is_decoder", False):
        raise _unsupported("is_decoder", "false", config["is_decoder"])
    if config.get("add_cross_attention", False):
        raise _unsupported(
            "add_cross_attention", "false", config["add_cross_attention"]
        )
    kwargs = {}
    for key, argument in _CONFIG_KEYS.items():
        if key not in config:
            raise ValueError(
                f"The BERT configuration lacks `{key}`, needed for "
                f"`{argument}`. Received keys: {sorted(config)}"
            )
        kwargs[argument] = config[key]
    hidden_dropout = config.get("hidden_dropout_prob", 0.1)
    attention_dropout = config.get("attention_probs_dropout_prob", 0.1)
    if hidden_dropout != attention_dropout:
        raise _unsupported(
            "attention_probs_dropout_prob",
            f"equal to hidden_dropout_prob={hidden_dropout!r} (one dropout rate)",
            attention_dropout,
        )
    kwargs["dropout"] = hidden_dropout
    kwargs["layer_norm_epsilon"] = config.get("layer_norm_eps", 1e-12)
    return kwargs


def _strip_prefix(tensors):
    """Drops the "bert." prefix of task-model checkpoints, keeping the rest."""
    if any(name.startswith(_PREFIX + "embeddings.") for name in tensors):
        return {
            name[len(_PREFIX):]: value
            for name, value in tensors.items()
            if name.startswith(_PREFIX)
        }
    return dict(tensors)


class _Reader:
    """Looks tensors up by name and checks their shapes."""

    def __init__(self, tensors):
        self.tensors = _strip_prefix(tensors)

    def get(self, name, expected_shape):
        value = self._find(name)
        if tuple(value.shape) != tuple(expected_shape):
            raise ValueError(
                f"The checkpoint tensor `{name}` does not match the "
                f"configuration: expected shape {tuple(expected_shape)}, "
                f"received shape {tuple(value.shape)}"
            )
        return np.asarray(value, dtype="float32")

    def _find(self, name):
        if name in self.tensors:
            return self.tensors[name]
        # Checkpoints converted from the original TensorFlow BERT name the
        # layer normalization parameters gamma / beta.
        legacy = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )
        if legacy in self.tensors:
            return self.tensors[legacy]
        raise ValueError(
            f"The checkpoint lacks the tensor `{name}` (looked up with and "
            f"without the {_PREFIX!r} prefix). Received "
            f"{len(self.tensors)} tensors, e.g. {sorted(self.tensors)[:5]}"
        )

    def linear(self, name, in_dim, out_dim):
        """Returns `[kernel (in, out), bias (out,)]` of an `nn.Linear`."""
        weight = self.get(name + ".weight", (out_dim, in_dim))
        return [weight.T, self.get(name + ".bias", (out_dim,))]

    def layer_norm(self, name, dim):
        """Returns `[gamma, beta]`."""
        return [self.get(name + ".weight", (dim,)), self.get(name + ".bias", (dim,))]


def convert_weights(tensors, kwargs):
    """Converts Hugging Face BERT tensors to our layout.

    Args:
        tensors: `{name: np.ndarray}`, as `read_tensors` returns.
        kwargs: `BertEncoder` arguments, as `encoder_kwargs` returns.

    Returns:
        A dict of float32 arrays: "token_embedding" (V, D),
        "position_embedding" (L, D), "segment_embedding" (num_segments, D),
        "embedding_norm" [gamma, beta], "pooler" [kernel, bias] and "blocks",
        one dict per layer with "query", "key", "value",
        "attention_output", "attention_norm", "intermediate", "output" and
        "output_norm", each a list of weights in the order of our layer.

    Raises:
        ValueError: naming the tensor that is missing, or whose shape is not
            the one the configuration implies (expected and received shape).
    """
    reader = _Reader(tensors)
    dim = kwargs["hidden_dim"]
    heads = kwargs["num_heads"]
    head_dim = dim // heads
    inner = kwargs["intermediate_dim"]
    weights = {
        "token_embedding": reader.get(
            "embeddings.word_embeddings.weight", (kwargs["vocabulary_size"], dim)
        ),
        "position_embedding": reader.get(
            "embeddings.position_embeddings.weight",
            (kwargs["max_sequence_length"], dim),
        ),
        "segment_embedding": reader.get(
            "embeddings.token_type_embeddings.weight", (kwargs["num_segments"], dim)
        ),
        "embedding_norm": reader.layer_norm("embeddings.LayerNorm", dim),
        "pooler": reader.linear("pooler.dense", dim, dim),
        "blocks": [],
    }
    for i in range(kwargs["num_layers"]):
        prefix = f"encoder.layer.{i}."
        block = {}
        for projection in ("query", "key", "value"):
            kernel, bias = reader.linear(
                prefix + "attention.self." + projection, dim, dim
            )
            # [D, D] -> [D, N, H]; [D] -> [N, H]
            block[projection] = [
                kernel.reshape(dim, heads, head_dim),
                bias.reshape(heads, head_dim),
            ]
        kernel, bias = reader.linear(prefix + "attention.output.dense", dim, dim)
        # [D, D] -> [N, H, D]
        block["attention_output"] = [kernel.reshape(heads, head_dim, dim), bias]
        block["attention_norm"] = reader.layer_norm(
            prefix + "attention.output.LayerNorm", dim
        )
        block["intermediate"] = reader.linear(
            prefix + "intermediate.dense", dim, inner
        )
        block["output"] = reader.linear(prefix + "output.dense", inner, dim)
        block["output_norm"] = reader.layer_norm(prefix + "output.LayerNorm", dim)
        weights["blocks"].append(block)
    return weights
