"""One exported BERT task model behind the server: validation, a runtime,
and the server-side text signatures."""

import numpy as np

from keras_transformer.data import BertTokenizer
from keras_transformer.export import encoder_signatures
from keras_transformer.export import layout
from keras_transformer.export.qa_config import QaConfig
from keras_transformer.serving import request_checks
from keras_transformer.serving import text_tasks
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.onnx_encoder_runtime import OnnxEncoderRuntime
from keras_transformer.serving.savedmodel_runtime import SavedModelRuntime
from keras_transformer.serving.served_model_base import ServedModelBase

SERVING_DEFAULT = encoder_signatures.SERVING_DEFAULT


class ServedEncoderModel(ServedModelBase):
    """A BERT task export (`export_encoder_model`), loaded in one runtime,
    answering predict requests.

    Signatures (see `keras_transformer.export.encoder_signatures`):
    `serving_default`, the graph on ids, answered by the runtime as TF
    Serving would; and the task's text signatures (`entities`, `answer`,
    `classify` / `classify_pair`), computed in the server around
    `serving_default` by `keras_transformer.serving.text_tasks` with the
    export's tokenizer, labels and question-answering settings.

    Every request is checked before it reaches the runtime: signature name,
    input structure, batch size; for ids, equal shapes, sequence length and
    value ranges; for texts, blank texts, length in characters and, for
    token classification and classification, in word pieces (never cut).
    Question answering contexts of any length up to `max_text_chars` are
    windowed. What fails gets a `RequestError` (a 4xx answer) naming the
    limit.

    Args:
        model_path: A model base path (`EXPORT_DIR/NAME`) or a version folder.
        runtime: "savedmodel" (TensorFlow) or "onnx" (onnxruntime).
        name: The model name in URLs; defaults to the exported name.
        version: The version to serve; `None`: the highest.
        limits: `ServingLimits`; `max_text_tokens` caps the word pieces of
            a text to tag or classify (never above the model's maximum).
        intra_op_num_threads: onnxruntime threads (0: default).
    """

    def __init__(self, model_path, runtime="savedmodel", name=None, version=None,
                 limits=None, intra_op_num_threads=0):
        super().__init__(
            model_path, runtime, name, version, limits, kind=layout.KIND_ENCODER,
            expected_export="an export of a BERT task model (export_encoder_model)",
        )
        self.task = self.manifest["task"]
        self.labels = self.manifest["labels"]
        self.tokenizer = BertTokenizer.load(layout.tokenizer_dir(self.path))
        self.max_sequence_length = self.manifest["max_sequence_length"]
        self.vocabulary_size = self.manifest["model"]["vocabulary_size"]
        self.num_segments = self.manifest["model"]["num_segments"]
        self.max_text_tokens = self.limits.text_token_limit(self.max_sequence_length)
        qa = self.manifest.get("question_answering")
        self.qa_config = QaConfig.from_json(qa) if qa else None
        self.specs = encoder_signatures.signature_specs(
            self.task, len(self.labels) if self.labels else None
        )
        if runtime == "savedmodel":
            self.runtime = SavedModelRuntime(self.path)
        else:
            self.runtime = OnnxEncoderRuntime(
                self.path, intra_op_num_threads=intra_op_num_threads
            )

    # === Requests ===

    def predict(self, request):
        """Answers a `rest_api.PredictRequest` with {output name: array}."""
        signature_name, arrays = self.request_arrays(request)
        if signature_name == SERVING_DEFAULT:
            self._check_ids(arrays)
            return self._run(arrays)
        for name, texts in arrays.items():
            if name == "words":  # pre-split words: checked as the text they make
                texts = [" ".join(words) for words in texts]
            request_checks.check_texts(
                name, texts, self.limits.max_text_chars, purpose="read"
            )
        return self._text_signature(signature_name, arrays)

    # === Text signatures ===

    def _run(self, arrays):
        return self.runtime.run(SERVING_DEFAULT, arrays)

    def _text_signature(self, signature_name, arrays):
        if signature_name == encoder_signatures.ENTITIES:
            entities = text_tasks.tag_entities(
                list(arrays["text"]), self.tokenizer, self._run, self.labels,
                self.max_text_tokens, self._token_limit(),
            )
            return {"entities": _objects(entities)}
        if signature_name == encoder_signatures.ENTITIES_WORDS:
            entities = text_tasks.tag_word_entities(
                list(arrays["words"]), self.tokenizer, self._run, self.labels,
                self.max_text_tokens, self._token_limit(),
            )
            return {"entities": _objects(entities)}
        if signature_name == encoder_signatures.ANSWER:
            answers = text_tasks.answer_questions(
                list(arrays["question"]), list(arrays["context"]), self.tokenizer,
                self._run, self.qa_config, self.limits.max_batch_size,
            )
            return {
                key: _objects([answer[key] for answer in answers])
                for key in ("answer", "start", "end", "score")
            }
        pairs = arrays.get("text_pair")
        classes = text_tasks.classify_texts(
            list(arrays["text"]), None if pairs is None else list(pairs),
            self.tokenizer, self._run, self.labels, self.max_text_tokens,
            self._token_limit(),
        )
        return {
            key: _objects([result[key] for result in classes])
            for key in ("label", "score", "probabilities")
        }

    def _token_limit(self):
        if self.max_text_tokens < self.max_sequence_length:
            return f"this server's max_text_tokens={self.max_text_tokens}"
        return f"the model's max_sequence_length={self.max_sequence_length}"

    # === Checks ===

    def _check_ids(self, arrays):
        shapes = {name: arrays[name].shape for name in encoder_signatures.INPUT_NAMES}
        if len(set(shapes.values())) > 1:
            raise RequestError(
                "token_ids, segment_ids and padding_mask must have the same shape "
                f"(B, T). Received: {', '.join(f'{k} {v}' for k, v in shapes.items())}"
            )
        request_checks.check_sequence_length(
            "The inputs have", shapes["token_ids"][1], self.max_sequence_length
        )
        for name, limit, what in (
            ("token_ids", self.vocabulary_size, "a token id"),
            ("segment_ids", self.num_segments, "a segment id"),
            ("padding_mask", 2, "a padding mask value (1 real token, 0 padding)"),
        ):
            request_checks.check_range(name, arrays[name], limit, what, plural="values")
        empty = np.flatnonzero(arrays["padding_mask"].max(axis=1) == 0)
        if empty.size:
            raise RequestError(
                f"padding_mask[{int(empty[0])}] has no 1: every row needs at least "
                "one real token."
            )


def _objects(values):
    """A (B,) object array of JSON values, as `rest_api` formats them."""
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array
