"""Train, validation and test pairs from whatever splits a dataset has.

A folder of your own text often holds only `train` files, or `train` and
`test`, and names its validation files `dev` or `valid`.
`load_translation_splits` reads the splits that exist (under their usual
names, `SPLIT_ALIASES`) and holds the missing ones out of the training
pairs, saying so in `TranslationSplits.notes` and the log.
"""

import dataclasses
import logging

import numpy as np
import tensorflow as tf

from keras_transformer.data import datasets
from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

# A held-out split carved from train gets this fraction of the training
# pairs, at least one and at most `MAX_HELD_OUT` (enough for a stable
# validation loss and BLEU; more only slows each evaluation).
HELD_OUT_FRACTION = 0.05
MAX_HELD_OUT = 2000
HELD_OUT_KINDS = ("validation", "test")


@dataclasses.dataclass(frozen=True)
class TranslationSplits:
    """The three splits of a translation run.

    Attributes:
        train: `(source, target)` string pairs to train on (without any
            pairs held out of them).
        validation: Pairs to validate on.
        test: Pairs to evaluate on.
        info: The `TranslationInfo` of the training split as loaded.
        sources: For each of "train", "validation", "test", where its pairs
            come from: a split name of the dataset, or "held out of train".
        sizes: The number of pairs of each split.
        notes: One sentence per split that was held out of train.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    info: datasets.TranslationInfo
    sources: dict
    sizes: dict
    notes: tuple = ()


def load_translation_splits(
    dataset=datasets.BUILTIN_DATASET,
    train_split="train",
    data_dir=None,
    source_language=None,
    target_language=None,
    held_out_size=None,
    seed=0,
    download=True,
):
    """Loads train, validation and test pairs, holding out missing splits.

    The validation and test splits are the dataset's own when it has them
    (under any name of `SPLIT_ALIASES`: "dev", "valid", ...). A missing one
    is a random sample of the training pairs (fixed by `seed`), removed
    from the training pairs, and logged; the two samples never overlap.

    Args:
        dataset: As for `load_translation`.
        train_split: The split to train on (TFDS slicing allowed).
        data_dir: As for `load_translation`.
        source_language: As for `load_translation`.
        target_language: As for `load_translation`.
        held_out_size: Pairs per held-out split; default 5% of the training
            pairs, at least 1 and at most 2,000.
        seed: Seed of the held-out sample.
        download: As for `load_translation`.

    Returns:
        A `TranslationSplits`.

    Raises:
        ValueError: as `load_translation` does, and when the training split
            is too small to hold pairs out of it.

    Example:

    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "en.train.txt").write_text("a\\nb\\nc\\nd\\n")
    >>> _ = (folder / "fr.train.txt").write_text("w\\nx\\ny\\nz\\n")
    >>> splits = load_translation_splits(str(folder), source_language="fr")
    >>> splits.sizes, splits.sources["test"]
    ({'train': 2, 'validation': 1, 'test': 1}, 'held out of train')
    """
    languages = dict(data_dir=data_dir, source_language=source_language,
                     target_language=target_language, download=download)
    train, info = datasets.load_translation(dataset, train_split, **languages)
    sources = {"train": info.split}
    loaded = {}
    for kind in HELD_OUT_KINDS:
        name = datasets.find_split(kind, info.splits)
        if name is not None:
            loaded[kind], _ = datasets.load_translation(dataset, name, **languages)
            sources[kind] = name
    missing = [kind for kind in HELD_OUT_KINDS if kind not in loaded]
    notes = ()
    if missing:
        train, held_out, notes = _hold_out(
            train, info, missing, held_out_size, seed, dataset
        )
        loaded.update(held_out)
        sources.update({kind: "held out of train" for kind in missing})
    splits = {"train": train, **loaded}
    return TranslationSplits(
        train=train,
        validation=loaded["validation"],
        test=loaded["test"],
        info=info,
        sources=sources,
        sizes={kind: _size(splits[kind]) for kind in ("train", *HELD_OUT_KINDS)},
        notes=notes,
    )


def _hold_out(train, info, kinds, held_out_size, seed, dataset):
    """Splits `kinds` off `train`: (rest of train, {kind: pairs}, notes)."""
    num_pairs = _size(train)
    if held_out_size is None:
        size = min(MAX_HELD_OUT, max(1, round(HELD_OUT_FRACTION * num_pairs)))
    else:
        size = checks.positive_int("held_out_size", held_out_size)
    if num_pairs - size * len(kinds) < 1:
        raise ValueError(
            f"Dataset {dataset!r} has no {' or '.join(kinds)} split, and its "
            f"{num_pairs} training pairs are too few to hold {size} pairs "
            f"out for each of them and keep some to train on. Add files "
            f"such as {{language}}.{kinds[0]}.txt, or more training pairs. "
            f"Received: held_out_size={held_out_size}"
        )
    order = np.random.default_rng(seed).permutation(num_pairs)
    # 0: train; i + 1: the i-th held-out kind. Kept pairs keep their order.
    assignment = np.zeros(num_pairs, np.int32)
    for code, kind in enumerate(kinds, start=1):
        assignment[order[(code - 1) * size: code * size]] = code
    assignment = tf.constant(assignment)

    def part(code, count):
        pairs = (
            train.enumerate()
            .filter(lambda index, pair: tf.equal(tf.gather(assignment, index), code))
            .map(lambda index, pair: pair)
        )
        return pairs.apply(tf.data.experimental.assert_cardinality(count))

    held_out = {kind: part(code, size) for code, kind in enumerate(kinds, start=1)}
    notes = tuple(
        f"{dataset} has no {kind} split: holding out {size} of the "
        f"{num_pairs} training pairs (random, seed {seed}) as {kind}, "
        f"leaving {num_pairs - size * len(kinds)} to train on."
        for kind in kinds
    )
    for note in notes:
        logger.info(note)
    return part(0, num_pairs - size * len(kinds)), held_out, notes


def _size(pairs):
    cardinality = int(pairs.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(pairs.reduce(np.int64(0), lambda count, _: count + 1))
