#!/usr/bin/env python3
"""Build the silver-standard NER corpus in ``keras_transformer/data/bible_ner``.

King James Bible verses, split into words and tagged with IOB2 tags for three
entity types, by machine, from a gazetteer and rules (no human annotated it):

* ``PER``: individual people, and deities other than the God of the Bible
  ("Abram", "Jesus Christ", "Pharaoh", "Baal");
* ``LOC``: places: cities, regions, countries, mountains, rivers, and
  nations, kingdoms and tribes named like their land or ancestor ("Egypt",
  "Israel" as a nation, "Judah" as a tribe or kingdom), as CoNLL-2003 tags
  country names;
* ``NORP``: names of peoples and groups ("Egyptians", "Levites", "Jews",
  "Pharisees", "Gentiles").

Sources (all public domain, Debian packages of CrossWire SWORD modules)::

    apt-get install sword-text-kjv sword-dict-strongs-hebrew sword-dict-strongs-greek

* ``engKJV2006eb`` (sword-text-kjv): the KJV text, each word tagged with its
  Strong's number (``<w lemma="strong:H0087">Abram</w>``); read with
  ``read_ztext`` of ``scripts/build_bible_corpus.py``.
* ``StrongsHebrew`` / ``StrongsGreek`` (sword-dict-strongs-*): James Strong's
  1890 dictionaries, which describe every proper name ("{Abram} the original
  name of Abraham", "{Oboth} a place in the Desert", "Cyprus, an island in
  the Mediterranean"); read with ``read_zld`` below.

How a word is tagged (``Annotator``):

1. The gazetteer: every Strong's entry whose English renderings are
   capitalized is a name; its description gives its class
   (``classify_entry``): a person ("an Israelite", "the name of two
   Israelites", "a son of Jacob"), a place ("a place in Palestine", "a city
   of Syria", "a river"), a people ("Patrial from ...", "inhabitant of"),
   an *eponym* (a person and also the tribe, people or land named after him:
   "Judah", "Moab", "Edom"), or *ambiguous* (a person and, unrelated, a
   place of the same name). ``OVERRIDES`` corrects the classes of the most
   frequent names where the description misleads, and ``NOT_ENTITIES``
   lists the entries that are not names of an entity (the divine names,
   titles such as "Christ" are kept as PER through ``OVERRIDES``).
2. A KJV word is an entity word when it starts with a capital letter and
   carries the Strong's number of a name. Its type: ``NORP`` when the word
   itself is a people's name by its ending ("Egyptians", "Moabites",
   "Levite", "Jews"), else its entry's class. Eponyms are ``LOC`` unless a
   person cue follows ("Judah said", "Judah his son", "Judah begat") or
   precedes ("the son of Judah"); ambiguous names take ``PER`` or ``LOC``
   from such cues ("in Gilead", "the land of ...", "Gilead begat"), and a
   verse with an ambiguous name that no cue resolves is left out.
3. Adjacent entity words of one type form one entity ("Jesus Christ",
   "Simon Peter"): ``B-`` then ``I-``. Possessive "'s" is a word of its own,
   tagged ``O``. Everything else is ``O``.

Selection and splits: splits by whole book, the same books as the
translation corpus ``bible_en_es`` (``TEST_BOOKS`` / ``VALIDATION_BOOKS`` of
``build_bible_corpus.py``). Validation and test keep every usable verse of
their books; train keeps every verse with an entity in 1 of
``TRAIN_ENTITY_EVERY`` verses and every verse without one in 1 of
``TRAIN_PLAIN_EVERY`` (chosen by a hash of the verse id, so the choice is
stable), to keep the files small.

Output: ``{train,validation,test}.conll.gz``, UTF-8, one word per line as
``word<TAB>tag``, a blank line after each verse, canonical verse order;
``ids.txt.gz`` lists the verse id of every sentence, split by split. The
gzip headers carry no name or time, so rebuilds are byte-identical.

Usage (from the repository root, with the package installed)::

    python scripts/build_ner_corpus.py            # (re)write the files
    python scripts/build_ner_corpus.py --check    # rebuild in memory, compare
    python scripts/build_ner_corpus.py --stats    # counts for the README
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import html
import io
import re
import struct
import sys
import zlib
from pathlib import Path

import build_bible_corpus as bible  # scripts/, next to this file

from keras_transformer.data.ner_words import split_words

SWORD_DIR = Path("/usr/share/sword")
OUT_DIR = Path(__file__).resolve().parents[1] / "keras_transformer" / "data" / "bible_ner"
KJV_MODULE = "engKJV2006eb"
DICTIONARIES = {"H": "strongshebrew", "G": "strongsgreek"}
SPLITS = ("train", "validation", "test")
TRAIN_ENTITY_EVERY = 4
TRAIN_PLAIN_EVERY = 24

W_RE = re.compile(r"<w\b([^>]*)>(.*?)</w>", re.DOTALL)
DEF_RE = re.compile(r"<def>(.*?)</def>", re.DOTALL)
# Where a dictionary entry's description ends and its KJV renderings begin:
# ": - Abram." (Hebrew), ":--Paul, Paulus." (Greek).
RENDERINGS_RE = re.compile(r":\s*-{1,2}\s*")
CAPITALIZED_RE = re.compile(r"\b[A-Z][a-z]")

PERSON_CUES = re.compile(
    r"\b(israelites?|israelitess|israelitish|man|men|woman|women|females?|king|kings|"
    r"queen|princes?|princess|patriarch|sons?|daughters?|wife|wives|concubine|"
    r"brother|sister|father|mother|grandfather|grandson|nephew|uncle|prophet|"
    r"prophetess|priests?|levites?|apostles?|disciples?|christians?|persons?|"
    r"chiefs?|chieftains?|general|officers?|eunuchs?|governors?|emperors?|vizier|"
    r"heroine|lawgiver|leader|successor|ruler|judge|servants?|deity|idol|god|"
    r"goddess|progenitors?|antediluvian|sovereigns?|magician|husband|nurse|"
    r"harlot|widow|mistress|friend|seer|minstrel|scribe|musician|singer|"
    r"ancestor|tyrians?|females?|heroine|teacher|physician|tetrarch|proconsul|"
    r"edomites?|canaanites?|philistines?|egyptians?|persians?|babylonians?|"
    r"syrians?|assyrians?|moabites?|ammonites?|amalekites?|ishmaelites?|horites?|"
    r"midianites?|kenites?|hittites?|jebusites?|ethiopians?|romans?|greeks?|jews?|"
    r"jewess|benjamites?|gileadites?|arabians?|mesopotamian|gibeonite|"
    r"athenian|corinthian|ephesian|cyrenian|macedonian|temple servant)\b"
)
PLACE_CUES = re.compile(
    r"\b(places?|city|cities|town|towns|village|region|country|district|province|"
    r"island|isle|mountains?|mount|hills?|river|stream|brook|valley|plain|desert|"
    r"sea|lake|well|fountain|spring|land|territory|pool|gate|tower|grove|cave|"
    r"port|harbor|harbour|haven|capital|capitol|fortress|station|encampment|"
    r"wilderness|kingdom|empire|heights?|peak|ridge|promontory|rock|coast|"
    r"locality|quarter|seaport|peninsula|palestine|regions?|tract)\b"
)
GROUP_CUES = re.compile(
    r"\b(inhabitants? of|natives? of|collectively|sect|sectary|a race|tribes?|"
    r"people)\b"
)
# "a Moabitess", "an Athenian": one person of a people.
GENTILIC_PERSON_RE = re.compile(
    r"\b(an?|the|two|three|four|five|six|seven|several|\w+ other) "
    r"[A-Z]\w*(ites?|itess|itesses|esses|ians?|eans?|ish)\b|"
    r"\b(later|original|adopted|symbolical|babylonian) name|\bone of the Herods"
)
# An entry described only through another: "(Chaldee); corresponding to H7714".
REFERENCE_RE = re.compile(r"\b(?:corresponding to|the same as|a form of|"
                          r"of Hebrew origin \(|for) ?([HG])0*(\d+)")
EPONYM_CUES = re.compile(
    r"\b(tribe|tribes|descendants?|posterity|territory|country|region|land|"
    r"people|inhabitants|nation)\b"
)

# Entries whose class the description gets wrong, checked by hand among the
# most frequent names (see --stats). Key: Strong's number.
OVERRIDES = {
    "H3478": "EPONYM",  # Israel: Jacob, his descendants, the nation, the land
    "G2474": "EPONYM",  # Israel (Greek)
    "H3389": "LOC", "G2419": "LOC", "G2414": "LOC",  # Jerusalem
    "H4714": "LOC",  # Mitsrayim: Egypt (Egyptians -> NORP by the word)
    "H894": "LOC",  # Babel, Babylon
    "H6547": "PER",  # Pharaoh, "a generic title of Egyptian kings"
    "G5547": "PER",  # Christ, "an epithet of Jesus"
    "G3094": "PER",  # (Mary) Magdalene
    "H6726": "LOC",  # Zion
    "H3383": "LOC",  # Jordan
    "H804": "EPONYM",  # Asshur, Assyria
    "H758": "EPONYM",  # Aram, Syria
    "H3667": "EPONYM",  # Canaan
    "H3778": "NORP",  # Kasdim: Chaldeans, Chaldees
    "H1168": "PER",  # Baal, a deity
    "H1568": "LOC",  # Gilead, a region
    "G2453": "NORP",  # Jew
    "G1484": "NORP",  # Gentiles
    "G5330": "NORP",  # Pharisees
    "G4523": "NORP",  # Sadducees
    "G4514": "NORP",  # Roman
    "G1672": "NORP",  # Greek (Hellen)
    "G2449": "LOC",  # Judaea
    "G2455": "PER",  # Judas
    "G2469": "PER",  # (Judas) Iscariot
    "H6215": "PER",  # Esau
    "H3290": "PER",  # Jacob
    "H5983": "EPONYM",  # Ammon
    "H6539": "LOC",  # Persia
    "G1056": "LOC",  # Galilee
    "H5019": "PER",  # Nebuchadnezzar
    "H7586": "PER",  # Saul
    "H1732": "PER",  # David
}
# Strong's entries that name no entity of the three types, even when
# capitalized: divine names and titles, feasts, words of the Psalms' titles.
NOT_ENTITIES = frozenset({
    "H3068", "H3069", "H3050", "H430", "H410", "H433", "H426", "H136",
    "H7706", "H113", "H5945", "H6635", "G2316", "G2962", "G5310", "G3841",
    "H5542", "H4210", "H5329", "H4905", "H7692", "H4387", "H8141",
    "G3957", "G4005", "G4521", "G1456", "G106", "H6453", "H7676", "H143",
    "H6332", "H1100", "G4151", "G40", "G5207", "G3962", "G4990", "H6918",
    "G1228", "G4567", "H7854", "G281", "H543", "H2145",
})
# The word itself names a people: "Egyptians", "Moabitess", "Levite".
GROUP_WORD_RE = re.compile(
    r"(ites?|itess|itish|ians?|eans?|ees|ines?|ims|Jews?|Gentiles?|Romans?|"
    r"Greeks?|Grecians?|Hebrews?|Medes|Nethinims)$"
)
PERSON_BEFORE = re.compile(r"\b(son|sons|daughter|daughters|wife|brother|father|"
                           r"mother|children of \w+ the son) of$")
PERSON_AFTER = re.compile(
    r"^(said|saith|spake|answered|begat|begot|took|knew|died|lived|called|"
    r"arose|sent|commanded|went|came|sat|slept|wept|loved|bare|heard|saw|"
    r"the son|his son|his sons|his father|his brother|his brethren|his wife|"
    r"her husband|her son|’s wife|’s son|’s sons|’s brother|’s father)\b"
)
PLACE_BEFORE = re.compile(
    r"\b(in|into|at|toward|towards|through|land of|city of|cities of|"
    r"wilderness of|coasts? of|borders? of|country of|plains? of|mount|river|"
    r"valley of|dwelt in|went to|king of|kings of|king of the)$"
)


# --------------------------------------------------------------------- dictionaries


def read_zld(data_path: Path) -> dict[str, str]:
    """Read a SWORD zLD lexicon as ``{key: entry text}``.

    Four files: ``.idx`` (per key: offset and size into ``.dat``, 2 x uint32),
    ``.dat`` (the key, a newline, then block number and entry number,
    2 x uint32), ``.zdx`` (per block: offset and size into ``.zdt``) and
    ``.zdt`` (zlib blocks; each starts with an entry count and per entry an
    offset and size, uint32, into the block).
    """
    read = lambda suffix: Path(f"{data_path}.{suffix}").read_bytes()  # noqa: E731
    index, keys, blocks_index, compressed = read("idx"), read("dat"), read("zdx"), read("zdt")
    blocks = [zlib.decompress(compressed[offset:offset + size])
              for offset, size in struct.iter_unpack("<II", blocks_index)]
    entries = {}
    for offset, size in struct.iter_unpack("<II", index):
        record = keys[offset:offset + size]
        key, _, location = record.partition(b"\n")
        if len(location) < 8:
            continue
        block_number, entry_number = struct.unpack("<II", location[:8])
        block = blocks[block_number]
        entry_offset, entry_size = struct.unpack_from("<II", block, 4 + 8 * entry_number)
        text = block[entry_offset:entry_offset + entry_size].decode("utf-8")
        entries[key.strip().decode("ascii")] = text.rstrip("\x00")
    return entries


def read_dictionaries(sword_dir: Path) -> dict[str, str]:
    """``{"H87": "Contracted from H48 ; high father ; {Abram} ...", ...}``."""
    definitions = {}
    for letter, module in DICTIONARIES.items():
        path = sword_dir / "modules" / "lexdict" / "zld" / module / "dict"
        for key, entry in read_zld(path).items():
            if not key.isdigit():
                continue
            match = DEF_RE.search(entry)
            text = bible.TAG_RE.sub(" ", match.group(1) if match else "")
            definitions[f"{letter}{int(key)}"] = " ".join(html.unescape(text).split())
    return definitions


def classify_entry(definition: str) -> str | None:
    """The class of a Strong's entry from its description.

    Returns PER, LOC, NORP, EPONYM, AMBIGUOUS_PER / AMBIGUOUS_LOC (a person
    and a place of the same name; the suffix is the sense named first),
    REFERENCE:<number> (a name described only by a reference, e.g. the
    Aramaic "corresponding to H7714"), UNKNOWN (a name without a cue), or
    None (not a name: its KJV renderings are not capitalized).
    """
    match = RENDERINGS_RE.search(definition)
    if match is None:
        return None
    description, renderings = definition[:match.start()], definition[match.end():]
    # The first KJV rendering decides: "- {Abram}", ":--Paul, Paulus".
    renderings = re.sub(r"\([^)]*\)|\[[^]]*\]|[{}+]|\bX\b", " ", renderings)
    if not CAPITALIZED_RE.match(renderings.strip()):
        return None
    # The gloss: the description after the etymology, from the name on.
    names = re.search(r"\{\s*[A-Z][^}]*\}", description)
    gloss = description[names.end():] if names else description.split(";")[-1]
    if re.search(r"\b(patrial|patronymic)\b", description.lower()):
        return "NORP"
    gentilic_person = GENTILIC_PERSON_RE.search(gloss)
    gloss = gloss.lower()
    person = PERSON_CUES.search(gloss) or gentilic_person
    place = PLACE_CUES.search(gloss)
    if person and EPONYM_CUES.search(gloss):
        return "EPONYM"
    if GROUP_CUES.search(gloss) and not person:
        return "LOC" if place else "NORP"
    if person and place:
        return "AMBIGUOUS_PER" if person.start() < place.start() else "AMBIGUOUS_LOC"
    if person:
        return "PER"
    if place:
        return "LOC"
    reference = REFERENCE_RE.search(description)
    if reference:
        return f"REFERENCE:{reference.group(1)}{int(reference.group(2))}"
    return "UNKNOWN"


def build_gazetteer(definitions: dict[str, str]) -> dict[str, str]:
    """``{Strong's number: class}`` for every name, overrides applied."""
    gazetteer = {}
    for key, definition in definitions.items():
        if key in NOT_ENTITIES:
            continue
        kind = OVERRIDES.get(key) or classify_entry(definition)
        if kind is not None:
            gazetteer[key] = kind
    for key, kind in gazetteer.items():
        seen = {key}
        while kind.startswith("REFERENCE:"):
            target = kind.split(":", 1)[1]
            kind = "UNKNOWN" if target in seen else gazetteer.get(target, "UNKNOWN")
            seen.add(target)
        gazetteer[key] = kind
    return gazetteer


# ---------------------------------------------------------------------- annotation


class Unresolved(Exception):
    """A verse holds a name whose type no rule decides."""


class Annotator:
    """Turns a verse's OSIS markup into ``(words, tags)``."""

    def __init__(self, gazetteer: dict[str, str]):
        self.gazetteer = gazetteer

    def words_with_lemmas(self, raw: str) -> list[tuple[str, tuple[str, ...]]]:
        """The verse's words, each with the Strong's numbers of its ``<w>``."""
        raw = bible.EMPTY_TAG_RE.sub(" ", bible.NOTE_RE.sub("", raw))
        pieces, position = [], 0
        for match in W_RE.finditer(raw):
            pieces.append((raw[position:match.start()], ()))
            lemmas = tuple(f"{letter}{int(number)}" for letter, number
                           in bible.STRONGS_RE.findall(match.group(1)))
            pieces.append((match.group(2), lemmas))
            position = match.end()
        pieces.append((raw[position:], ()))
        words = []
        for text, lemmas in pieces:
            text = html.unescape(bible.TAG_RE.sub(" ", text))
            text = bible.HEBREW_RE.sub("", text.replace("\u00b6", ""))
            words.extend((word, lemmas) for word, _, _ in split_words(text))
        return words

    def word_type(self, words, index, book) -> str | None:
        word, lemmas = words[index]
        if not word[:1].isupper():
            return None
        kinds = {self.gazetteer[lemma] for lemma in lemmas if lemma in self.gazetteer}
        if not kinds:
            return None
        if "NORP" in kinds or GROUP_WORD_RE.search(word):
            return "NORP"
        if len(kinds) > 1:
            raise Unresolved(word)
        (kind,) = kinds
        if kind in ("PER", "LOC"):
            return kind
        if kind == "UNKNOWN":
            raise Unresolved(word)
        before = " ".join(w for w, _ in words[max(0, index - 3):index]).lower()
        after = " ".join(w for w, _ in words[index + 1:index + 4])
        person = PERSON_BEFORE.search(before) or PERSON_AFTER.search(after)
        place = PLACE_BEFORE.search(before)
        if person and place:
            raise Unresolved(word)
        if person or place:
            return "PER" if person else "LOC"
        if kind == "EPONYM":
            # The patriarchs are people in Genesis; later their names stand
            # for the tribes, nations and lands that descend from them.
            return "PER" if book == "Gen" else "LOC"
        return kind.split("_")[1]  # AMBIGUOUS_PER / AMBIGUOUS_LOC

    def __call__(self, verse_id: str, raw: str) -> tuple[list[str], list[str]]:
        words = self.words_with_lemmas(raw)
        book = verse_id.split(".", 1)[0]
        types = [self.word_type(words, i, book) for i in range(len(words))]
        tags = []
        for i, kind in enumerate(types):
            if kind is None:
                tags.append("O")
            elif i > 0 and types[i - 1] == kind:
                tags.append(f"I-{kind}")
            else:
                tags.append(f"B-{kind}")
        return [word for word, _ in words], tags


# ------------------------------------------------------------------------- corpus


def keep_in_train(verse_id: str, has_entity: bool) -> bool:
    every = TRAIN_ENTITY_EVERY if has_entity else TRAIN_PLAIN_EVERY
    digest = hashlib.sha256(verse_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % every == 0


def build(sword_dir: Path):
    """Returns ``({split: [(verse_id, words, tags)]}, counts)``."""
    gazetteer = build_gazetteer(read_dictionaries(sword_dir))
    annotate = Annotator(gazetteer)
    verses = bible.read_ztext(sword_dir, KJV_MODULE)
    splits = {split: [] for split in SPLITS}
    counts = collections.Counter()
    for verse_id, raw in verses.items():
        split = bible.split_of(verse_id)
        try:
            words, tags = annotate(verse_id, raw)
        except Unresolved:
            counts[f"{split}: left out, unresolved name"] += 1
            continue
        if not words:
            counts[f"{split}: left out, empty"] += 1
            continue
        has_entity = any(tag != "O" for tag in tags)
        if split == "train" and not keep_in_train(verse_id, has_entity):
            counts["train: not sampled"] += 1
            continue
        splits[split].append((verse_id, words, tags))
    return splits, counts, gazetteer


def encode_conll(sentences) -> bytes:
    lines = []
    for _, words, tags in sentences:
        lines.extend(f"{word}\t{tag}" for word, tag in zip(words, tags))
        lines.append("")
    return gzip_bytes("\n".join(lines) + "\n" if lines else "")


def encode_ids(splits) -> bytes:
    lines = [f"{split}\t{verse_id}" for split in SPLITS for verse_id, _, _ in splits[split]]
    return gzip_bytes("\n".join(lines) + "\n")


def gzip_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(text.encode("utf-8"))
    return buffer.getvalue()


def statistics(splits, counts, gazetteer) -> str:
    rows = [f"gazetteer: {collections.Counter(gazetteer.values())}"]
    for split in SPLITS:
        sentences = splits[split]
        entities = collections.Counter(
            tag[2:] for _, _, tags in sentences for tag in tags if tag.startswith("B-"))
        words = sum(len(w) for _, w, _ in sentences)
        rows.append(f"{split}: {len(sentences)} sentences, {words} words, "
                    f"entities {dict(sorted(entities.items()))}")
    rows.extend(f"{key}: {value}" for key, value in sorted(counts.items()))
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sword-dir", type=Path, default=SWORD_DIR)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true",
                        help="rebuild in memory and compare with the files")
    parser.add_argument("--stats", action="store_true", help="print counts")
    args = parser.parse_args(argv)

    splits, counts, gazetteer = build(args.sword_dir)
    files = {f"{split}.conll.gz": encode_conll(splits[split]) for split in SPLITS}
    files["ids.txt.gz"] = encode_ids(splits)
    if args.stats or args.check:
        print(statistics(splits, counts, gazetteer))
    if args.check:
        different = [name for name, data in files.items()
                     if not (args.out_dir / name).exists()
                     or (args.out_dir / name).read_bytes() != data]
        print("identical" if not different else f"different: {different}")
        return 1 if different else 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out_dir / name).write_bytes(data)
        print(f"wrote {args.out_dir / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
