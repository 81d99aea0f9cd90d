"""Every export is run and compared with the Keras model before it counts.

What is compared, on inputs whose shapes no export traced (every graph is
traced with dynamic axes, and these batch sizes and lengths are odd on
purpose), padding included:

* logits: the SavedModel `logits` signature, `forward.onnx`, and the ONNX
  encoder + decoder step run one cached step at a time, against the Keras
  model's call. Max absolute difference <= `LOGITS_ATOL` (1e-4).
* tokens: the SavedModel `generate` / `generate_greedy` signatures and the
  NumPy searches over the ONNX sessions, against
  `keras_transformer.generation` (`make_search_fn`) on the Keras model, on
  random source ids and on tokenized sentences. Identical, every id.
* text: the SavedModel `translate` / `translate_greedy` signatures against
  tokenizing in Python, searching with the Keras model and detokenizing.
  Identical strings.
* ONNX graphs: every node is a standard ONNX op of the file's opset
  (tf2onnx reports success even when it left TensorFlow ops such as
  Bitcast in the graph), `onnx.checker` passes, and onnxruntime loads it.

A failed comparison raises `VerificationError` naming the check, the
shape, the difference and the tolerance.
"""

import pathlib

import numpy as np
import onnx
import onnxruntime

from keras_transformer.data import encode_for_translation
from keras_transformer.export import onnx_search
from keras_transformer.export import signatures
from keras_transformer.export.onnx_seq2seq import OnnxSeq2Seq
from keras_transformer.generation import make_search_fn

LOGITS_ATOL = 1e-4
# (B, S, T) of the logits checks.
LOGITS_SHAPES = ((1, 7, 5), (3, 12, 9), (4, 5, 13))
# (B, S) of the random-source token checks.
TOKEN_SHAPES = ((1, 6), (3, 11))
# Short, so that they fit any model's maximum length.
VERIFY_TEXTS = (
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "Blessed are the meek.",
)
_SEED = 20240611


class VerificationError(ValueError):
    """An exported artifact disagrees with the Keras model (or is not a
    valid ONNX graph)."""


def random_ids(batch_size, length, vocabulary_size, seed, end_id=None):
    """(B, L) int32 ids in [4, V), 0-padded: row i keeps a random length
    in [1, L], the first row all of L. With `end_id`, each row's last real
    token is it, as in a tokenized source."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, vocabulary_size, size=(batch_size, length)).astype(np.int32)
    lengths = rng.integers(1, length + 1, size=batch_size)
    lengths[0] = length
    for row, row_length in enumerate(lengths):
        if end_id is not None:
            ids[row, row_length - 1] = end_id
        ids[row, row_length:] = 0
    return ids


def check_onnx_graph(path):
    """Raises `VerificationError` unless `path` is a clean ONNX model.

    Clean: only standard ONNX ops, each defined at the model's opset;
    `onnx.checker.check_model` passes; onnxruntime loads it.
    """
    model = onnx.load(str(path), load_external_data=False)
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    standard_opset = opsets.get("", opsets.get("ai.onnx"))
    foreign = {}
    for node in _all_nodes(model.graph):
        known = node.domain in ("", "ai.onnx")
        if known:
            try:
                onnx.defs.get_schema(node.op_type, standard_opset, "")
            except onnx.defs.SchemaError:
                known = False
        if not known:
            key = f"{node.domain + '.' if node.domain else ''}{node.op_type}"
            foreign[key] = foreign.get(key, 0) + 1
    if foreign:
        listed = ", ".join(f"{op} (x{count})" for op, count in sorted(foreign.items()))
        raise VerificationError(
            f"{path} holds ops that are not ONNX ops of opset {standard_opset}: "
            f"{listed}. tf2onnx could not convert these TensorFlow ops (it "
            "reports success anyway). Use ops it converts, e.g. "
            "`tf.math.argmax` instead of `keras.ops.argmax` (Bitcast) and "
            "append-mode caches instead of `keras.ops.slice_update` "
            "(XlaDynamicUpdateSlice)."
        )
    try:
        onnx.checker.check_model(str(path), full_check=True)
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnx and onnxruntime raise their own types.
        raise VerificationError(f"{path} is not a valid ONNX model: {error}") from error


def verify_saved_model(loaded, model, tokenizer, decoding):
    """Compares a loaded SavedModel's signatures with the Keras model.

    The text signatures are checked when the export has them.

    Args:
        loaded: `tf.saved_model.load(path)` of the export.
        model: The (float32) `Seq2SeqTransformer` that was exported.
        tokenizer: Its `SubwordTokenizer`.
        decoding: The export's `DecodingConfig`.

    Returns:
        A list of check records (dicts); raises `VerificationError` if any
        failed.
    """
    reference = _KerasReference(model, tokenizer, decoding)

    def call(name, **inputs):
        outputs = loaded.signatures[name](**inputs)
        return {key: value.numpy() for key, value in outputs.items()}

    records = []
    for shape, (encoder_ids, decoder_ids) in _logits_inputs(model):
        got = call(
            signatures.LOGITS,
            encoder_token_ids=encoder_ids,
            decoder_token_ids=decoder_ids,
        )["logits"]
        records.append(
            compare_logits("savedmodel", "logits", shape, got,
                            reference.logits(encoder_ids, decoder_ids))
        )
    text = signatures.TRANSLATE in loaded.signatures
    id_signatures = [signatures.GENERATE, signatures.GENERATE_GREEDY]
    if not text:
        id_signatures.append(signatures.SERVING_DEFAULT)
    for name in id_signatures:
        beam_width = _beam_width(name, decoding)
        for shape, source in _token_inputs(model, tokenizer, decoding):
            got = call(name, encoder_token_ids=source)["output_ids"]
            records.append(
                _compare_tokens("savedmodel", name, shape, got,
                                reference.search(source, beam_width))
            )
    texts_to_check = _fitting_texts(tokenizer, model.max_sequence_length)
    text_signatures = signatures.TEXT_SIGNATURES + (signatures.SERVING_DEFAULT,)
    for name in text_signatures if text else ():
        beam_width = _beam_width(name, decoding)
        for texts in (texts_to_check[:1], texts_to_check):
            got = [t.decode("utf-8") for t in call(name, text=np.array(texts))["translation"]]
            records.append(
                _compare_texts("savedmodel", name, len(texts), got,
                               reference.translate(texts, beam_width))
            )
    raise_on_failure(records)
    return records


def verify_onnx(directory, model, tokenizer, decoding):
    """Checks the ONNX graphs and compares them with the Keras model.

    Args:
        directory: The folder `export_onnx` wrote.
        model: The (float32) `Seq2SeqTransformer` that was exported.
        tokenizer: Its `SubwordTokenizer`.
        decoding: The export's `DecodingConfig`.

    Returns:
        A list of check records (dicts); raises `VerificationError` if any
        failed.
    """
    directory = pathlib.Path(directory)
    records = []
    for part in ("forward", "encoder", "decoder_step"):
        check_onnx_graph(directory / f"{part}.onnx")
        records.append({"artifact": "onnx", "check": f"graph:{part}", "passed": True})
    onnx_model = OnnxSeq2Seq(directory)
    reference = _KerasReference(model, tokenizer, decoding)
    for shape, (encoder_ids, decoder_ids) in _logits_inputs(model):
        expected = reference.logits(encoder_ids, decoder_ids)
        records.append(
            compare_logits("onnx", "forward", shape,
                            onnx_model.logits(encoder_ids, decoder_ids), expected)
        )
        records.append(
            compare_logits("onnx", "cached_decoder_steps", shape,
                            _stepwise_logits(onnx_model, encoder_ids, decoder_ids),
                            expected)
        )
    for name in (signatures.GENERATE, signatures.GENERATE_GREEDY):
        beam_width = _beam_width(name, decoding)
        for shape, source in _token_inputs(model, tokenizer, decoding):
            got = onnx_search.search(onnx_model, source, decoding, beam_width)
            records.append(
                _compare_tokens("onnx", name, shape, got,
                                reference.search(source, beam_width))
            )
    raise_on_failure(records)
    return records


class _KerasReference:
    """The Keras model's answers, with one compiled search per beam width."""

    def __init__(self, model, tokenizer, decoding):
        self.model = model
        self.tokenizer = tokenizer
        self.decoding = decoding
        self._searches = {}

    def logits(self, encoder_ids, decoder_ids):
        logits = self.model(
            {"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids},
            training=False,
        )
        return np.asarray(logits, np.float32)

    def search(self, source, beam_width):
        if beam_width not in self._searches:
            self._searches[beam_width] = make_search_fn(
                self.model,
                self.decoding.max_output_length,
                self.decoding.start_id,
                self.decoding.end_id,
                beam_width=beam_width,
                alpha=self.decoding.alpha,
            )
        return np.asarray(self._searches[beam_width](source))

    def translate(self, texts, beam_width):
        source = encode_for_translation(
            texts, self.tokenizer, self.model.max_sequence_length
        )
        return self.tokenizer.decode(self.search(source, beam_width))


def _beam_width(signature_name, decoding):
    return decoding.beam_width if signatures.uses_beam_search(signature_name) else 1


def _fitting_texts(tokenizer, max_length):
    """The `VERIFY_TEXTS` that fit `max_length` ids with the end id."""
    texts = [
        text for text, ids in zip(VERIFY_TEXTS, tokenizer.encode(list(VERIFY_TEXTS)))
        if len(ids) + 1 <= max_length
    ]
    return texts or ["Amen."]


def _logits_inputs(model):
    vocabulary_sizes = (model.encoder_vocabulary_size, model.decoder_vocabulary_size)
    for i, (batch, source_length, target_length) in enumerate(LOGITS_SHAPES):
        # A model shorter than the shapes is checked at its full length.
        source_length = min(source_length, model.max_sequence_length)
        target_length = min(target_length, model.max_sequence_length)
        encoder_ids = random_ids(batch, source_length, vocabulary_sizes[0], _SEED + i)
        decoder_ids = random_ids(batch, target_length, vocabulary_sizes[1], _SEED - i)
        yield [batch, source_length, target_length], (encoder_ids, decoder_ids)


def _token_inputs(model, tokenizer, decoding):
    for i, (batch, length) in enumerate(TOKEN_SHAPES):
        length = min(length, model.max_sequence_length)
        source = random_ids(batch, length, tokenizer.vocabulary_size, _SEED + 7 * i,
                            end_id=decoding.end_id)
        yield [batch, length], source
    source = encode_for_translation(
        _fitting_texts(tokenizer, model.max_sequence_length), tokenizer,
        model.max_sequence_length,
    )
    yield list(source.shape), source


def _stepwise_logits(onnx_model, encoder_ids, decoder_ids):
    """(B, T, V) logits from the encoder and T cached decoder steps."""
    cross_attention, mask = onnx_model.encode(encoder_ids)
    cache = onnx_model.initial_cache(cross_attention)
    steps = []
    for index in range(decoder_ids.shape[1]):
        logits, cache = onnx_model.decode_step(
            decoder_ids[:, index : index + 1], mask, cache, index
        )
        steps.append(logits)
    return np.stack(steps, axis=1)


def compare_logits(artifact, check, shape, got, expected):
    """A check record: `got` within `LOGITS_ATOL` of `expected`, same shape."""
    got = np.asarray(got)
    record = {"artifact": artifact, "check": check, "shape": shape,
              "tolerance": LOGITS_ATOL}
    if got.shape != expected.shape:
        return {**record, "passed": False,
                "detail": f"shape {got.shape} instead of {expected.shape}"}
    difference = float(np.max(np.abs(got - expected)))
    passed = bool(difference <= LOGITS_ATOL)  # False for NaN as well.
    record = {**record, "max_abs_diff": difference, "passed": passed}
    if not passed:
        record["detail"] = (
            f"max |logits - Keras logits| = {difference:.3g} > {LOGITS_ATOL:g}"
        )
    return record


def _compare_tokens(artifact, check, shape, got, expected):
    got = np.asarray(got)
    record = {"artifact": artifact, "check": check, "shape": shape,
              "tolerance": "identical ids"}
    if got.shape != expected.shape:
        return {**record, "passed": False,
                "detail": f"shape {got.shape} instead of {expected.shape}"}
    rows = np.flatnonzero(np.any(got != expected, axis=1))
    if rows.size == 0:
        return {**record, "passed": True}
    row = int(rows[0])
    position = int(np.flatnonzero(got[row] != expected[row])[0])
    return {**record, "passed": False, "detail": (
        f"{rows.size} of {got.shape[0]} rows differ; row {row} first at "
        f"position {position}: got {got[row].tolist()}, Keras "
        f"{expected[row].tolist()}"
    )}


def _compare_texts(artifact, check, batch_size, got, expected):
    record = {"artifact": artifact, "check": check, "shape": [batch_size],
              "tolerance": "identical strings"}
    differing = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if len(got) != len(expected):
        differing = differing or [min(len(got), len(expected))]
    if not differing:
        return {**record, "passed": True}
    i = differing[0]
    return {**record, "passed": False, "detail": (
        f"{len(differing)} of {len(expected)} translations differ; text {i}: "
        f"got {got[i] if i < len(got) else None!r}, Keras "
        f"{expected[i] if i < len(expected) else None!r}"
    )}


def raise_on_failure(records):
    """Raises `VerificationError` listing every failed check record."""
    failed = [r for r in records if not r["passed"]]
    if failed:
        lines = [
            f"- {r['artifact']} {r['check']} at shape {r.get('shape')}: {r['detail']}"
            for r in failed
        ]
        raise VerificationError(
            f"{len(failed)} of {len(records)} export checks failed; the "
            "export is not usable:\n" + "\n".join(lines)
        )


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _all_nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_nodes(subgraph)
