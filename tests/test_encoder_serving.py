"""Serving BERT task exports: ids and server-side text signatures, both runtimes.

The text signatures' pre- and post-processing is tested on its own first,
with fake model outputs whose answers are known in closed form. Then
servers answer over HTTP, compared with the Keras models: real
`keras-transformer serve` processes (`ServerProcess`) for one runtime per
task, in-process `ModelServer`s for the other (starting a TensorFlow
process costs ~10 s on a loaded CPU); the slow test runs every task and
runtime in real processes.
"""

import http.client
import json
import math
import pathlib
import re
import threading

import keras
import numpy as np
import pytest

from keras_transformer.data import BertTokenizer
from keras_transformer.export import QaConfig
from keras_transformer.export.encoder_demo import CLASS_LABELS
from keras_transformer.export.encoder_demo import DEMO_NAMES
from keras_transformer.export.encoder_demo import NER_LABELS
from keras_transformer.export.encoder_demo import write_demo_vocabulary
from keras_transformer.question_answering import QuestionAnswerer
from keras_transformer.serving import ModelServer
from keras_transformer.serving import RequestError
from keras_transformer.serving import ServedEncoderModel
from keras_transformer.serving import ServedModel
from keras_transformer.serving import ServingLimits
from keras_transformer.serving import load_served_model
from keras_transformer.serving import text_tasks
from keras_transformer.serving.server_process import ServerProcess
from keras_transformer.tasks import EntityTagger

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUNTIMES = ("savedmodel", "onnx")
MAX_BATCH = 4
MAX_TEXT_CHARS = 400
SERVER_ARGS = ["--max-batch-size", str(MAX_BATCH), "--max-text-chars", str(MAX_TEXT_CHARS),
               "--request-timeout", "5"]
LIMITS = ServingLimits(max_batch_size=MAX_BATCH, max_text_chars=MAX_TEXT_CHARS,
                       request_timeout_s=5.0)
# The (task, runtime) pairs served by real processes in the default suite;
# the others by in-process servers (and by real processes in the slow test).
PROCESS_PAIRS = (("token_classification", "savedmodel"), ("question_answering", "onnx"),
                 ("classification", "savedmodel"))
THREAD_PAIRS = (("token_classification", "onnx"), ("question_answering", "savedmodel"),
                ("classification", "onnx"))
NER_TEXTS = ["Abram went down into Egypt with Sarai his wife.",
             "Moses led the people out of Egypt to the land of Jordan."]
CONTEXT = ("In the beginning God created the heaven and the earth. " * 3
           + "Noah built the ark of gopher wood.")
QUESTIONS = [{"question": "Who built the ark?", "context": CONTEXT},
             {"question": "What was his name?", "context": "Jesus wept."}]
CLASS_TEXTS = ["Jesus wept.", "Moses led the people out of Egypt."]


# === Unit: text signatures on known model outputs ===


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return BertTokenizer(write_demo_vocabulary(tmp_path_factory.mktemp("vocab") / "vocab.txt"))


def fake_token_logits(tokenizer, tag_of_token, num_labels, logit=4.0):
    """A `run` whose (B, T, L) logits favour a tag per token id."""
    table = np.zeros(tokenizer.vocabulary_size, np.int64)
    for token, tag in tag_of_token.items():
        table[tokenizer.token_to_id(token)] = tag

    def run(arrays):
        return {"logits": logit * np.eye(num_labels)[table[arrays["token_ids"]]]}

    return run


def test_entities_are_word_spans_decoded_from_first_pieces(tokenizer):
    labels = list(NER_LABELS)
    tag = {label: i for i, label in enumerate(labels)}
    # "Abramites" is abram ##ite ##s: only its first piece's tag counts.
    run = fake_token_logits(tokenizer, {"abram": tag["B-PER"], "##ite": tag["B-LOC"],
                                        "egypt": tag["B-LOC"], "king": tag["B-PER"],
                                        "david": tag["I-PER"]}, len(labels))
    text = "Abramites went down into Egypt with king David."
    (entities,) = text_tasks.tag_entities([text], tokenizer, run, labels, 32, "limit")
    probability = math.exp(4) / (math.exp(4) + len(labels) - 1)
    assert [(e["entity"], e["start"], e["end"], e["text"]) for e in entities] == [
        ("PER", 0, 9, "Abramites"), ("LOC", 25, 30, "Egypt"), ("PER", 36, 46, "king David")]
    for entity in entities:
        assert entity["score"] == pytest.approx(probability)
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_pre_split_words_are_tagged_as_given(tokenizer):
    labels = list(NER_LABELS)
    tag = {label: i for i, label in enumerate(labels)}
    run = fake_token_logits(tokenizer, {"abram": tag["B-PER"], "egypt": tag["B-LOC"],
                                        "david": tag["I-PER"]}, len(labels))
    # "@abram" and "king-david" stay one word each: no re-splitting.
    words = ["@abram", "went", "into", "Egypt", "with", "king-david"]
    (entities,) = text_tasks.tag_word_entities([words], tokenizer, run, labels, 32, "limit")
    assert [(e["entity"], e["start"], e["end"], e["words"]) for e in entities] == [
        ("LOC", 3, 4, ["Egypt"])]  # "@abram" starts with "@", "king-david" with "king"
    (entities,) = text_tasks.tag_word_entities([["abram", "went", "david"]], tokenizer, run,
                                               labels, 32, "limit")
    assert [(e["entity"], e["start"], e["end"], e["text"]) for e in entities] == [
        ("PER", 0, 1, "abram"), ("PER", 2, 3, "david")]
    with pytest.raises(RequestError, match=r"words\[0\] is \d+ word pieces long"):
        text_tasks.tag_word_entities([["abram"] * 20], tokenizer, run, labels, 11, "limit")


def test_entities_refuse_texts_longer_than_the_limit(tokenizer):
    run = fake_token_logits(tokenizer, {}, len(NER_LABELS))
    with pytest.raises(RequestError, match=r"text\[1\] is 12 word pieces long .* limit "
                                           r"of 11 \(the limit\)\. Sentences are never cut"):
        text_tasks.tag_entities(["Jesus wept.", "abram " * 10], tokenizer, run,
                                list(NER_LABELS), 11, "the limit")


def test_answers_come_from_any_window_of_a_long_context(tokenizer):
    noah, built = tokenizer.token_to_id("noah"), tokenizer.token_to_id("built")
    calls = []

    def run(arrays):
        calls.append(arrays["token_ids"].shape)
        context = arrays["segment_ids"] == 1
        return {"start_logits": np.where(context & (arrays["token_ids"] == noah), 8.0, 0.0),
                "end_logits": np.where(context & (arrays["token_ids"] == built), 8.0, 0.0)}

    context = "the ark of gopher wood . " * 8 + "Noah built it."
    config = QaConfig.for_model(32)
    (answer,) = text_tasks.answer_questions(["who built the ark ?"], [context], tokenizer,
                                            run, config, max_batch_size=2)
    start = context.index("Noah")
    assert answer == {"answer": "Noah built", "start": start, "end": start + 10, "score": 16.0}
    # 52 context pieces, 24 per window, a window every 10: 4 windows, 2 a call.
    assert [shape[0] for shape in calls] == [2, 2]
    assert all(shape[1] <= config.max_length for shape in calls)


def test_questions_longer_than_the_export_allows_are_refused(tokenizer):
    with pytest.raises(RequestError, match=r"question\[0\] is 9 word pieces long, more "
                                           r"than this model's max_question_length=8"):
        text_tasks.answer_questions(["who " * 9], ["Noah built it."], tokenizer, None,
                                    QaConfig.for_model(32), 4)


def test_classification_is_a_softmax_over_the_classes(tokenizer):
    def run(arrays):
        assert arrays["segment_ids"][1].max() == 1  # The pair's second text.
        return {"logits": np.tile([0.0, math.log(3.0), 0.0], (2, 1))}

    results = text_tasks.classify_texts(["Jesus wept.", "a king"], [None, "a city"],
                                        tokenizer, run, list(CLASS_LABELS), 32, "limit")
    assert results[0] == {"label": "neutral", "score": pytest.approx(0.6),
                          "probabilities": pytest.approx([0.2, 0.6, 0.2])}


# === Servers ===


@pytest.fixture(scope="module")
def demo(encoder_demo):
    """{task: (model base path, Keras model, tokenizer, manifest)}, of the
    shared demo exports (`encoder_demo` in tests/conftest.py)."""
    return {
        task: (path.parent, model, BertTokenizer.load(training / "tokenizer"), manifest)
        for task, (manifest, path, model, training) in encoder_demo.items()
    }


def start_processes(demo, pairs, log_dir):
    started = {
        (task, runtime): ServerProcess(demo[task][0], runtime,
                                       log_dir / f"{task}_{runtime}.log",
                                       extra_args=SERVER_ARGS, cwd=ROOT)
        for task, runtime in pairs
    }
    try:
        for server in started.values():
            server.wait_ready()
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


@pytest.fixture(scope="module")
def ports(demo, tmp_path_factory):
    """{(task, runtime): port}: real processes and in-process servers."""
    processes = start_processes(demo, PROCESS_PAIRS, tmp_path_factory.mktemp("logs"))
    threads = {}
    try:
        for task, runtime in THREAD_PAIRS:
            server = ModelServer(ServedEncoderModel(demo[task][0], runtime, limits=LIMITS),
                                 port=0)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True).start()
            threads[(task, runtime)] = server
        yield {**{pair: p.port for pair, p in processes.items()},
               **{pair: s.port for pair, s in threads.items()}}
        for pair, process in processes.items():
            assert process.process.poll() is None, f"the {pair} server died"
    finally:
        for server in threads.values():
            server.shutdown()
            server.server_close()
        stop_all(processes)


def stop_all(processes):
    """SIGTERM to every server first, so that they stop side by side."""
    for process in processes.values():
        process.terminate()
    return [process.stop() for process in processes.values()]


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        connection.request(method, path, body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def predict(port, task, body):
    return request(port, "POST", f"/v1/models/{DEMO_NAMES[task]}:predict", body)


def padded_ids(tokenizer, texts):
    """The model inputs of `texts`, as a client would send them."""
    encodings = [tokenizer.encode(text) for text in texts]
    return {name: value.tolist() for name, value in
            text_tasks.pad_encodings(encodings, tokenizer.pad_id).items()}


# --- What every (task, runtime) must answer ---


def check_ids(port, task, demo):
    _, model, tokenizer, _ = demo[task]
    inputs = padded_ids(tokenizer, ["Jesus wept.", "Noah built the ark of gopher wood."])
    expected = model({name: np.array(value) for name, value in inputs.items()})
    expected = expected if isinstance(expected, dict) else {"logits": expected}
    instances = [dict(zip(inputs, row)) for row in zip(*inputs.values())]
    status, body = predict(port, task, {"instances": instances})
    assert status == 200, body
    status, columns = predict(port, task, {"signature_name": "serving_default",
                                           "inputs": inputs})
    assert status == 200, columns
    if len(expected) == 1:
        np.testing.assert_allclose(body["predictions"], expected["logits"], atol=1e-4)
        np.testing.assert_allclose(columns["outputs"], expected["logits"], atol=1e-4)
    else:
        for name, value in expected.items():
            np.testing.assert_allclose([row[name] for row in body["predictions"]], value,
                                       atol=1e-4)
            np.testing.assert_allclose(columns["outputs"][name], value, atol=1e-4)


def check_text(port, task, demo):
    path, model, tokenizer, manifest = demo[task]
    if task == "token_classification":
        status, body = predict(port, task, {"signature_name": "entities",
                                            "instances": [{"text": t} for t in NER_TEXTS]})
        assert status == 200, body
        for text, entities in zip(NER_TEXTS, body["predictions"]):
            # The Keras model's entities, by the public tagger.
            (expected,) = EntityTagger(model, tokenizer, NER_LABELS, max_length=32).tag([text])
            assert [(e["start"], e["end"], e["entity"], e["text"]) for e in entities] \
                == [(e["start"], e["end"], e["entity"], e["text"]) for e in expected]
            assert [e["score"] for e in entities] \
                == pytest.approx([e["score"] for e in expected], abs=1e-4)
            assert all(0 < e["score"] <= 1 for e in entities)
        assert any(body["predictions"]), "a random model tags some words"
        status, bare = predict(port, task, {"signature_name": "entities",
                                            "instances": NER_TEXTS})
        assert (status, bare) == (200, body)
        words = [text.split() for text in NER_TEXTS]
        status, body = predict(port, task, {"signature_name": "entities_words",
                                            "instances": [{"words": w} for w in words]})
        assert status == 200, body
        expected = EntityTagger(model, tokenizer, NER_LABELS, max_length=32).tag_words(words)
        assert [[(e["start"], e["end"], e["entity"], e["words"]) for e in entities]
                for entities in body["predictions"]] == [
            [(e["start"], e["end"], e["entity"], e["words"]) for e in entities]
            for entities in expected]
    elif task == "question_answering":
        status, body = predict(port, task, {"signature_name": "answer", "instances": QUESTIONS})
        assert status == 200, body
        answerer = QuestionAnswerer(model, tokenizer,
                                    **manifest["question_answering"])
        assert len(tokenizer.encode(CONTEXT)) > 32  # Windowed, not cut.
        for question, answer in zip(QUESTIONS, body["predictions"]):
            expected = answerer.answer(question["question"], question["context"])
            assert set(answer) == {"answer", "start", "end", "score"}
            assert (answer["answer"], answer["start"], answer["end"]) == (
                expected["text"], expected["start"], expected["end"])
            assert answer["score"] == pytest.approx(expected["score"], abs=2e-4)
            assert question["context"][answer["start"]:answer["end"]] == answer["answer"]
    else:
        for signature, extra in (("classify", {}), ("classify_pair", {"text_pair": "a city"})):
            status, body = predict(port, task, {"signature_name": signature, "instances": [
                {"text": text, **extra} for text in CLASS_TEXTS]})
            assert status == 200, body
            encodings = [tokenizer.encode(text, extra.get("text_pair")) for text in CLASS_TEXTS]
            inputs = text_tasks.pad_encodings(encodings, tokenizer.pad_id)
            probabilities = keras.ops.softmax(model(inputs)).numpy()
            for row, prediction in zip(probabilities, body["predictions"]):
                assert prediction["label"] == CLASS_LABELS[int(np.argmax(row))]
                assert prediction["score"] == pytest.approx(float(row.max()), abs=1e-5)
                np.testing.assert_allclose(prediction["probabilities"], row, atol=1e-5)


def bad_requests(task):
    ids = {"token_ids": [[2, 40, 3]], "segment_ids": [[0, 0, 0]], "padding_mask": [[1, 1, 1]]}

    def with_ids(**changes):
        return {"inputs": {**ids, **changes}}

    common = [
        ("malformed JSON", b'{"instances": [', "Malformed JSON"),
        ("unknown signature", {"signature_name": "translate", "instances": ["a"]},
         "not found in signature def"),
        ("missing ids input", {"inputs": {"token_ids": [[2, 3]]}}, "Missing: \\['padding_mask', "),
        ("float ids", with_ids(token_ids=[[2, 4.5, 3]]), "integer token ids"),
        ("ragged ids", with_ids(token_ids=[[2, 3], [2]]), "rectangular"),
        ("different shapes", with_ids(segment_ids=[[0, 0]]), "must have the same shape"),
        ("too many ids", {"inputs": {name: [[1] * 33] for name in ids}},
         "max_sequence_length=32"),
        ("token id out of range", with_ids(token_ids=[[2, 64, 3]]), "is not a token id"),
        ("segment id out of range", with_ids(segment_ids=[[0, 2, 0]]), "is not a segment id"),
        ("padding mask not 0/1", with_ids(padding_mask=[[1, 1, 7]]), "padding mask value"),
        ("no real token", with_ids(padding_mask=[[0, 0, 0]]), "at least one real token"),
        ("oversized batch", {"inputs": {name: value * (MAX_BATCH + 1) for name, value in ids.items()}},
         f"max_batch_size={MAX_BATCH}"),
    ]
    if task == "token_classification":
        text = {"signature_name": "entities"}
        return common + [
            ("text past the maximum length", {**text, "instances": ["Abram went down " * 11]},
             "is 35 word pieces long .*the model's max_sequence_length=32.* never cut"),
            ("missing text", {**text, "instances": [{"txt": "Abram"}]},
             "Missing: \\['text'\\]"),
            ("number for text", {**text, "instances": [{"text": 5}]}, "must be a string"),
            ("blank text", {**text, "instances": ["  "]}, "empty or blank"),
            ("too many characters", {**text, "instances": ["a" * (MAX_TEXT_CHARS + 1)]},
             f"max_text_chars={MAX_TEXT_CHARS}"),
            ("string for words", {"signature_name": "entities_words",
                                  "instances": [{"words": "Abram went"}]},
             "words\\[0\\] must be a non-empty list of word strings"),
            ("number among words", {"signature_name": "entities_words",
                                    "instances": [{"words": ["Abram", 5]}]},
             "words\\[0\\]\\[1\\] must be a string"),
            ("words past the maximum length", {"signature_name": "entities_words",
                                               "instances": [["Abram"] * 40]},
             "words\\[0\\] is 42 word pieces long .* never cut"),
        ]
    if task == "question_answering":
        answer = {"signature_name": "answer"}
        return common + [
            ("missing context", {**answer, "instances": [{"question": "Who?"}]},
             "Missing: \\['context'\\]"),
            ("bare string", {**answer, "instances": ["Who?"]}, "must be a JSON object"),
            ("list for context", {**answer, "instances": [{"question": "Who?", "context": ["a"]}]},
             "must be a string"),
            ("question too long", {**answer, "instances": [
                {"question": "who built the ark " * 3, "context": "Noah"}]},
             "max_question_length=8"),
        ]
    pair = {"signature_name": "classify_pair"}
    return common + [
        ("missing text_pair", {**pair, "instances": [{"text": "a"}]}, "Missing: \\['text_pair'\\]"),
        ("pair past the maximum length", {**pair, "instances": [
            {"text": "Jesus wept. " * 6, "text_pair": "Jesus wept. " * 6}]},
         "is 39 word pieces long .*max_sequence_length=32"),
        ("null text", {"signature_name": "classify", "instances": [{"text": None}]},
         "must be a string"),
    ]


def check_bad_requests(port, task):
    for label, body, message in bad_requests(task):
        status, got = predict(port, task, body)
        assert status == 400, (label, got)
        assert set(got) == {"error"} and re.search(message, got["error"]), (label, got)
    assert request(port, "POST", "/v1/models/other:predict", {"instances": ["a"]})[0] == 404


# --- The default suite ---


ALL_PAIRS = PROCESS_PAIRS + THREAD_PAIRS


@pytest.mark.parametrize("task,runtime", ALL_PAIRS)
def test_ids_predict_equals_keras(ports, demo, task, runtime):
    check_ids(ports[(task, runtime)], task, demo)


@pytest.mark.parametrize("task,runtime", ALL_PAIRS)
def test_text_signatures_answer_like_the_training_code(ports, demo, task, runtime):
    check_text(ports[(task, runtime)], task, demo)


@pytest.mark.parametrize("task,runtime", ALL_PAIRS)
def test_bad_requests_get_4xx_json_errors(ports, task, runtime):
    check_bad_requests(ports[(task, runtime)], task)


@pytest.mark.parametrize("task", ["token_classification", "question_answering"])
def test_status_and_metadata_list_the_signatures(ports, task):
    port = ports[(task, dict(PROCESS_PAIRS)[task])]
    name = DEMO_NAMES[task]
    status, body = request(port, "GET", f"/v1/models/{name}")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = request(port, "GET", f"/v1/models/{name}/metadata")
    assert status == 200
    defs = body["metadata"]["signature_def"]["signature_def"]
    serving_default = defs.pop("serving_default")
    assert set(serving_default["inputs"]) == {"token_ids", "segment_ids", "padding_mask"}
    assert serving_default["inputs"]["token_ids"]["dtype"] == "DT_INT32"
    if task == "token_classification":
        assert set(defs) == {"entities", "entities_words"}
        assert defs["entities_words"]["inputs"]["words"]["dtype"] == "DT_STRING"
        assert defs["entities"]["outputs"]["entities"]["dtype"] == "DT_VARIANT"
        dims = serving_default["outputs"]["logits"]["tensor_shape"]["dim"]
        assert [d["size"] for d in dims] == ["-1", "-1", str(len(NER_LABELS))]
    else:
        assert set(defs) == {"answer"}
        assert set(defs["answer"]["inputs"]) == {"question", "context"}


def test_the_factory_picks_the_served_model_by_kind(demo):
    served = load_served_model(demo["classification"][0], runtime="onnx")
    assert isinstance(served, ServedEncoderModel) and served.labels == list(CLASS_LABELS)
    assert served.batch_stats == {}
    with pytest.raises(ValueError, match="expected a translation export"):
        ServedModel(demo["classification"][0], runtime="onnx")


@pytest.mark.slow
def test_every_task_and_runtime_in_real_server_processes(demo, tmp_path):
    processes = start_processes(demo, THREAD_PAIRS, tmp_path)
    try:
        for (task, runtime), process in processes.items():
            check_ids(process.port, task, demo)
            check_text(process.port, task, demo)
            check_bad_requests(process.port, task)
            assert process.process.poll() is None
    finally:
        assert stop_all(processes) == [0] * len(processes)
