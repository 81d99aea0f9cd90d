"""The serving signatures of an exported BERT task model, in one table.

Every export has one graph signature, `serving_default`, in the SavedModel
and in `forward.onnx` alike: the model's input dict in, its outputs out.

| task | `serving_default` outputs |
|---|---|
| `token_classification` (`BertTokenClassifier`) | `logits` float32 (B, T, L) |
| `question_answering` (`BertSpanExtractor`) | `start_logits`, `end_logits` float32 (B, T) |
| `classification` (`BertClassifier`) | `logits` float32 (B, C) |

Inputs: `token_ids`, `segment_ids`, `padding_mask` int32 (B, T), any B
and T up to the model's `max_sequence_length`; `padding_mask` is 1 for
real tokens, 0 for padding.

The server adds **server-side** text signatures: Python code in the server
tokenizes with the export's `BertTokenizer`, runs `serving_default` and
decodes the outputs (the graph itself takes ids, so TF Serving, which
runs graphs only, has `serving_default` alone):

| task | signature | inputs (B,) strings | outputs, per instance |
|---|---|---|---|
| `token_classification` | `entities` | `text` | `entities`: a list of `{"entity", "start", "end", "text", "score"}` |
| `token_classification` | `entities_words` | `words` (B, n) lists of words, already split | `entities`: a list of `{"entity", "start", "end", "words", "text", "score"}`, word indices |
| `question_answering` | `answer` | `question`, `context` | `answer` string, `start`, `end` int (`None`: no answer), `score` float |
| `classification` | `classify` | `text` | `label` string, `score` float, `probabilities` float (C,) |
| `classification` | `classify_pair` | `text`, `text_pair` | as `classify` |

Their dtype "json" stands for structured JSON values (TF Serving's
metadata shows it as DT_VARIANT).
"""

from keras_transformer.export.signatures import SERVING_DEFAULT
from keras_transformer.export.signatures import TensorInfo
from keras_transformer.layers import checks

TOKEN_CLASSIFICATION = "token_classification"
QUESTION_ANSWERING = "question_answering"
CLASSIFICATION = "classification"
TASKS = (TOKEN_CLASSIFICATION, QUESTION_ANSWERING, CLASSIFICATION)

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")
ENTITIES = "entities"
ENTITIES_WORDS = "entities_words"
ANSWER = "answer"
CLASSIFY = "classify"
CLASSIFY_PAIR = "classify_pair"
TEXT_SIGNATURES = {
    TOKEN_CLASSIFICATION: (ENTITIES, ENTITIES_WORDS),
    QUESTION_ANSWERING: (ANSWER,),
    CLASSIFICATION: (CLASSIFY, CLASSIFY_PAIR),
}


def output_names(task):
    """The names of `serving_default`'s outputs for `task`."""
    checks.one_of("task", task, TASKS)
    if task == QUESTION_ANSWERING:
        return ("start_logits", "end_logits")
    return ("logits",)


def name_outputs(task, outputs):
    """The model's outputs (a tensor or a dict) as {output name: value}."""
    names = output_names(task)
    if isinstance(outputs, dict):
        return {name: outputs[name] for name in names}
    return {names[0]: outputs}


def signature_specs(task, num_labels=None):
    """Returns {signature name: {"inputs": {...}, "outputs": {...}}}.

    Args:
        task: One of `TASKS`.
        num_labels: L (token classification) or C (classification), the
            last axis of the logits; `None` for question answering.

    Example:

    >>> specs = signature_specs("classification", num_labels=3)
    >>> sorted(specs)
    ['classify', 'classify_pair', 'serving_default']
    >>> specs["serving_default"]["outputs"]["logits"]
    TensorInfo(dtype='float32', shape=(None, 3))
    """
    checks.one_of("task", task, TASKS)
    ids = {name: TensorInfo("int32", (None, None)) for name in INPUT_NAMES}
    text = TensorInfo("string", (None,))
    scalar_float = TensorInfo("float32", (None,))
    if task == TOKEN_CLASSIFICATION:
        outputs = {"logits": TensorInfo("float32", (None, None, num_labels))}
        text_specs = {
            ENTITIES: {
                "inputs": {"text": text},
                "outputs": {"entities": TensorInfo("json", (None,))},
            },
            # Words as the client split them (tweets, CoNLL data): never re-split.
            ENTITIES_WORDS: {
                "inputs": {"words": TensorInfo("string", (None, None))},
                "outputs": {"entities": TensorInfo("json", (None,))},
            },
        }
    elif task == QUESTION_ANSWERING:
        logits = TensorInfo("float32", (None, None))
        outputs = {"start_logits": logits, "end_logits": logits}
        text_specs = {
            ANSWER: {
                "inputs": {"question": text, "context": text},
                "outputs": {
                    "answer": text,
                    "start": TensorInfo("int32", (None,)),
                    "end": TensorInfo("int32", (None,)),
                    "score": scalar_float,
                },
            }
        }
    else:
        outputs = {"logits": TensorInfo("float32", (None, num_labels))}
        classified = {
            "label": text,
            "score": scalar_float,
            "probabilities": TensorInfo("float32", (None, num_labels)),
        }
        text_specs = {
            CLASSIFY: {"inputs": {"text": text}, "outputs": classified},
            CLASSIFY_PAIR: {
                "inputs": {"text": text, "text_pair": text},
                "outputs": classified,
            },
        }
    return {SERVING_DEFAULT: {"inputs": ids, "outputs": outputs}, **text_specs}


def is_server_side(signature_name):
    """Whether a signature is computed by the server around the graph."""
    return signature_name != SERVING_DEFAULT
