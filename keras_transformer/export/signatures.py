"""The serving signatures of an exported translation model, in one table.

The SavedModel defines them as graph signatures; the ONNX serving runtime
implements the same names, inputs and outputs in Python, so a client sees
the same API whichever runtime answers.

| signature          | inputs                                   | outputs                    |
|--------------------|------------------------------------------|----------------------------|
| `translate`        | `text` string (B,)                       | `translation` string (B,)  |
| `translate_greedy` | `text` string (B,)                       | `translation` string (B,)  |
| `generate`         | `encoder_token_ids` int32 (B, S)         | `output_ids` int32 (B, L)  |
| `generate_greedy`  | `encoder_token_ids` int32 (B, S)         | `output_ids` int32 (B, L)  |
| `logits`           | `encoder_token_ids` int32 (B, S),        | `logits` float32 (B, T, V) |
|                    | `decoder_token_ids` int32 (B, T)         |                            |

`translate` and `generate` use beam search with the export's `beam_width`
and `alpha`; the `_greedy` variants greedy search. L is the export's
`max_output_length`: output ids are padded with 0 after the end id.
`serving_default` is `translate`.

An export made with `text_signatures=False` leaves out the two text
signatures (their graphs need TensorFlow Text's SentencePiece ops, which a
TensorFlow binary without tensorflow-text cannot load); its
`serving_default` is then `generate`.
"""

import dataclasses

SERVING_DEFAULT = "serving_default"
TRANSLATE = "translate"
TRANSLATE_GREEDY = "translate_greedy"
GENERATE = "generate"
GENERATE_GREEDY = "generate_greedy"
LOGITS = "logits"

TEXT_SIGNATURES = (TRANSLATE, TRANSLATE_GREEDY)
ID_SIGNATURES = (GENERATE, GENERATE_GREEDY, LOGITS)
SIGNATURE_NAMES = TEXT_SIGNATURES + ID_SIGNATURES
# TensorFlow's names for the dtypes, as TF Serving's metadata shows them.
# "json": the structured answers of server-side signatures (see
# `encoder_signatures`), which have no tensor dtype.
TF_DTYPE_NAMES = {"string": "DT_STRING", "int32": "DT_INT32", "float32": "DT_FLOAT",
                  "json": "DT_VARIANT"}


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """dtype ("string", "int32" or "float32") and shape (`None` = any)."""

    dtype: str
    shape: tuple


def signature_names(text_signatures=True):
    """The signatures an export has, `serving_default` included."""
    names = SIGNATURE_NAMES if text_signatures else ID_SIGNATURES
    return (*names, SERVING_DEFAULT)


def resolve(signature_name, text_signatures=True):
    """The signature that `signature_name` runs (aliases resolved)."""
    if signature_name == SERVING_DEFAULT:
        return TRANSLATE if text_signatures else GENERATE
    return signature_name


def uses_beam_search(signature_name):
    """Whether a decoding signature uses beam search (else greedy)."""
    return signature_name in (TRANSLATE, GENERATE, SERVING_DEFAULT)


def signature_specs(vocabulary_size, max_output_length, text_signatures=True):
    """Returns {signature name: {"inputs": {...}, "outputs": {...}}}.

    `serving_default` is included, with its target's spec.
    """
    text = {"text": TensorInfo("string", (None,))}
    translation = {"translation": TensorInfo("string", (None,))}
    source = {"encoder_token_ids": TensorInfo("int32", (None, None))}
    output_ids = {"output_ids": TensorInfo("int32", (None, max_output_length))}
    specs = {
        TRANSLATE: {"inputs": text, "outputs": translation},
        TRANSLATE_GREEDY: {"inputs": text, "outputs": translation},
        GENERATE: {"inputs": source, "outputs": output_ids},
        GENERATE_GREEDY: {"inputs": source, "outputs": output_ids},
        LOGITS: {
            "inputs": {
                **source,
                "decoder_token_ids": TensorInfo("int32", (None, None)),
            },
            "outputs": {
                "logits": TensorInfo("float32", (None, None, vocabulary_size))
            },
        },
    }
    specs[SERVING_DEFAULT] = specs[resolve(SERVING_DEFAULT, text_signatures)]
    return {name: specs[name] for name in signature_names(text_signatures)}
