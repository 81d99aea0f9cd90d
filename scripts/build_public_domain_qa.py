#!/usr/bin/env python3
"""Rebuild the hand-made question answering set in ``keras_transformer/data/public_domain_qa_json``.

A small SQuAD-format set (v2.0 layout, with a few unanswerable questions) over
public-domain passages, written for this project's default run and tests. It is
NOT SQuAD, and scores on it are not SQuAD scores; see the README next to the
files for provenance and licences.

Usage (from the repository root)::

    python scripts/build_public_domain_qa.py           # (re)write train.json and validation.json
    python scripts/build_public_domain_qa.py --check   # rebuild in memory, compare with the files

Dependencies: the Python standard library only. King James Version passages are
copied verse by verse from the package's own Bible corpus
(``keras_transformer/data/bible_en_es/*.tsv.gz``), so their text is exactly the
shipped KJV text. The other passages were typed from the well-known public-domain
texts named in each passage's title; each such context starts with one
introductory sentence written for this set.

Questions are written as ``(question, answers)`` where ``answers`` is a string or
a list of strings (alternative gold answers, for validation questions) or
``None`` for an unanswerable question. ``answer_start`` is computed here: an
answer must occur in its context, and when it occurs more than once the question
names an ``after`` anchor (the answer is the first occurrence at or after the
anchor's first occurrence); an ambiguous answer without an anchor is an error.
"""

import argparse
import gzip
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIBLE_DIR = ROOT / "keras_transformer/data/bible_en_es"
OUTPUT_DIR = ROOT / "keras_transformer/data/public_domain_qa_json"
SPLITS = ("train", "validation")


def bible(reference):
    """("Gen.6.13", "Gen.6.22") -> the KJV verses joined by single spaces."""
    return ("bible", reference)


# === Passages ===
# Each: key (question id prefix), split, title, context (a string, or bible(...)
# for verses from the shipped corpus), questions.

PASSAGES = [
    # ---------------------------------------------------------------- train
    dict(
        key="noah_ark",
        split="train",
        title="Genesis 6:13-22 (King James Version)",
        context=bible(("Gen.6.13", "Gen.6.22")),
        questions=[
            ("What kind of wood was the ark to be made of?", "gopher wood"),
            ("How long was the ark to be?", "three hundred cubits"),
            ("How broad was the ark to be?", "fifty cubits"),
            ("What was to be the height of the ark?", "thirty cubits"),
            ("Where was the door of the ark to be set?", "in the side thereof"),
            ("Which stories was the ark to have?", "lower, second, and third stories"),
            ("What was the ark to be pitched with within and without?",
             ("pitch", "without with ")),
            ("How many of every sort of living thing was Noah to bring into the ark?",
             ("two", "all flesh, ")),
            ("Who was to come into the ark with Noah?",
             "thy sons, and thy wife, and thy sons’ wives"),
            ("What would God bring upon the earth to destroy all flesh?",
             "a flood of waters"),
            ("With what was the earth filled?", "violence"),
            ("How many days did it rain on the ark?", None),
            ("What was the name of Noah's wife?", None),
        ],
    ),
    dict(
        key="goliath",
        split="train",
        title="1 Samuel 17:4-10 (King James Version)",
        context=bible(("1Sam.17.4", "1Sam.17.10")),
        questions=[
            ("What was the name of the champion of the Philistines?", "Goliath"),
            ("What city was Goliath from?", "Gath"),
            ("How tall was Goliath?", "six cubits and a span"),
            ("How much did Goliath's coat of mail weigh?",
             "five thousand shekels of brass"),
            ("What was Goliath's helmet made of?", ("brass", "helmet of ")),
            ("What did Goliath wear upon his legs?", "greaves of brass"),
            ("What was the staff of Goliath's spear like?", "a weaver’s beam"),
            ("How much did the head of Goliath's spear weigh?",
             "six hundred shekels of iron"),
            ("Who went before Goliath?", "one bearing a shield"),
            ("Whose servants did Goliath call the men of Israel?", "Saul"),
            ("What did the Philistine say he defied?",
             ("the armies of Israel", "I defy ")),
            ("Who killed Goliath?", None),
        ],
    ),
    dict(
        key="wise_men",
        split="train",
        title="Matthew 2:1-12 (King James Version)",
        context=bible(("Matt.2.1", "Matt.2.12")),
        questions=[
            ("Where was Jesus born?", ("Bethlehem of Judaea", "born in ")),
            ("Who was king when Jesus was born?", ("Herod the king", "days of ")),
            ("From which direction did the wise men come?", ("the east", "men from ")),
            ("To which city did the wise men come first?", ("Jerusalem", "east to ")),
            ("What had the wise men seen in the east?", "his star"),
            ("Whom did Herod gather to ask where Christ should be born?",
             "all the chief priests and scribes of the people"),
            ("What gifts did the wise men present to the young child?",
             "gold, and frankincense, and myrrh"),
            ("With whom did the wise men find the young child?", "Mary his mother"),
            ("How were the wise men warned not to return to Herod?", "in a dream"),
            ("How did the wise men go back to their own country?", "another way"),
            ("With what did the wise men rejoice when they saw the star?",
             "exceeding great joy"),
            ("How many wise men came to Jerusalem?", None),
        ],
    ),
    dict(
        key="census",
        split="train",
        title="Luke 2:1-7 (King James Version)",
        context=bible(("Luke.2.1", "Luke.2.7")),
        questions=[
            ("Who sent out the decree that all the world should be taxed?",
             "Cæsar Augustus"),
            ("Who was governor of Syria when the taxing was first made?", "Cyrenius"),
            ("From which region did Joseph go up?", "Galilee"),
            ("Out of which city did Joseph go?", "Nazareth"),
            ("What is the city of David called?", "Bethlehem"),
            ("Why did Joseph go to the city of David?",
             "because he was of the house and lineage of David"),
            ("Who was Joseph's espoused wife?", "Mary"),
            ("Where was the firstborn son laid?", "in a manger"),
            ("What was the child wrapped in?", "swaddling clothes"),
            ("Why was the child laid in a manger?",
             "there was no room for them in the inn"),
            ("What was the name of the innkeeper?", None),
        ],
    ),
    dict(
        key="burning_bush",
        split="train",
        title="Exodus 3:1-6 (King James Version)",
        context=bible(("Exod.3.1", "Exod.3.6")),
        questions=[
            ("Whose flock did Moses keep?", "Jethro his father in law"),
            ("Of what place was Jethro the priest?", "Midian"),
            ("What was the name of the mountain of God?", "Horeb"),
            ("In what did the angel of the LORD appear to Moses?", "a flame of fire"),
            ("What burned with fire and was not consumed?", ("the bush", "behold, ")),
            ("What did God tell Moses to put off from his feet?", "thy shoes"),
            ("Why was Moses to put off his shoes?",
             "the place whereon thou standest is holy ground"),
            ("What did Moses answer when God called him?", "Here am I"),
            ("Why did Moses hide his face?", "he was afraid to look upon God"),
            ("What was the name of Moses's wife?", None),
        ],
    ),
    dict(
        key="samson",
        split="train",
        title="Judges 16:4-9 (King James Version)",
        context=bible(("Judg.16.4", "Judg.16.9")),
        questions=[
            ("In which valley was the woman that Samson loved?", "the valley of Sorek"),
            ("What was the name of the woman Samson loved?", ("Delilah", "whose name was ")),
            ("How much did each lord of the Philistines promise Delilah?",
             "eleven hundred pieces of silver"),
            ("Who asked Delilah to entice Samson?", ("the lords of the Philistines", "And the lords")),
            ("What did Samson say he could be bound with?",
             "seven green withs that were never dried"),
            ("Where were the men lying in wait?", "in the chamber"),
            ("How did Samson break the withs?",
             "as a thread of tow is broken when it toucheth the fire"),
            ("What were the lords of the Philistines trying to find out?",
             ("wherein his great strength lieth", "see ")),
            ("How many Philistines were lying in wait?", None),
        ],
    ),
    dict(
        key="shipwreck",
        split="train",
        title="Acts 27:39-28:3 (King James Version)",
        context=bible(("Acts.27.39", "Acts.28.3")),
        questions=[
            ("What did the sailors discover when it was day?",
             "a certain creek with a shore"),
            ("What did they hoist up to the wind?", "the mainsail"),
            ("Where did they run the ship aground?", "a place where two seas met"),
            ("Which part of the ship stuck fast?", "the forepart"),
            ("What broke the hinder part of the ship?", "the violence of the waves"),
            ("What was the soldiers' counsel?", "to kill the prisoners"),
            ("Who kept the soldiers from their purpose?", "the centurion"),
            ("Whom did the centurion want to save?", ("Paul", "save ")),
            ("How did the rest get to land?",
             "some on boards, and some on broken pieces of the ship"),
            ("What was the island called?", "Melita"),
            ("What fastened on Paul's hand?", "a viper"),
            ("Why did the barbarous people kindle a fire?",
             "because of the present rain, and because of the cold"),
            ("Who was the master of the ship?", None),
        ],
    ),
    dict(
        key="temple",
        split="train",
        title="1 Kings 6:1-3 (King James Version)",
        context=bible(("1Kgs.6.1", "1Kgs.6.3")),
        questions=[
            ("In which year after the children of Israel came out of Egypt did "
             "Solomon begin to build the house of the LORD?",
             "the four hundred and eightieth year"),
            ("In which year of his reign did Solomon begin to build the house?",
             "the fourth year"),
            ("In which month did Solomon begin to build the house of the LORD?",
             "the month Zif"),
            ("Which month is Zif?", "the second month"),
            ("How long was the house that Solomon built?", "threescore cubits"),
            ("How broad was the house?", ("twenty cubits", "breadth thereof ")),
            ("How high was the house?", "thirty cubits"),
            ("How broad was the porch before the temple?", "ten cubits"),
            ("How many workmen built the house of the LORD?", None),
        ],
    ),
    dict(
        key="creation",
        split="train",
        title="Genesis 1:1-8 (King James Version)",
        context=bible(("Gen.1.1", "Gen.1.8")),
        questions=[
            ("What did God create in the beginning?", "the heaven and the earth"),
            ("What was upon the face of the deep?", ("darkness", "and darkness")),
            ("What moved upon the face of the waters?", "the Spirit of God"),
            ("What did God call the light?", "Day"),
            ("What did God call the darkness?", "Night"),
            ("What did God call the firmament?", "Heaven"),
            ("Where was the firmament to be?", "in the midst of the waters"),
            ("What did God see about the light?", "that it was good"),
            ("What did God create on the third day?", None),
        ],
    ),
    dict(
        key="constitution",
        split="train",
        title="The Constitution of the United States: Preamble and Article I, "
        "Sections 1-2",
        context=(
            "The Constitution of the United States was signed on September 17, "
            "1787, in Philadelphia. It begins with this Preamble and these clauses "
            "of Article I: We the People of the United States, in Order to form a "
            "more perfect Union, establish Justice, insure domestic Tranquility, "
            "provide for the common defence, promote the general Welfare, and "
            "secure the Blessings of Liberty to ourselves and our Posterity, do "
            "ordain and establish this Constitution for the United States of "
            "America. Article I. Section 1. All legislative Powers herein granted "
            "shall be vested in a Congress of the United States, which shall "
            "consist of a Senate and House of Representatives. Section 2. The House "
            "of Representatives shall be composed of Members chosen every second "
            "Year by the People of the several States, and the Electors in each "
            "State shall have the Qualifications requisite for Electors of the "
            "most numerous Branch of the State Legislature. No Person shall be a "
            "Representative who shall not have attained to the Age of twenty five "
            "Years, and been seven Years a Citizen of the United States, and who "
            "shall not, when elected, be an Inhabitant of that State in which he "
            "shall be chosen."
        ),
        questions=[
            ("When was the Constitution of the United States signed?",
             "September 17, 1787"),
            ("In which city was the Constitution signed?", "Philadelphia"),
            ("Who ordains and establishes the Constitution?",
             "We the People of the United States"),
            ("In what are all legislative powers vested?",
             ("a Congress of the United States", "vested in ")),
            ("Of which two houses does Congress consist?",
             "a Senate and House of Representatives"),
            ("How often are the members of the House of Representatives chosen?",
             "every second Year"),
            ("What is the youngest age at which a person may be a Representative?",
             "twenty five Years"),
            ("How long must a Representative have been a citizen of the United "
             "States?", "seven Years"),
            ("What must a Representative be, when elected, of the state in which "
             "he is chosen?", "an Inhabitant"),
            ("What does the Constitution secure to ourselves and our Posterity?",
             "the Blessings of Liberty"),
            ("How long is the term of a Senator?", None),
            ("What is the youngest age at which a person may be a Senator?", None),
        ],
    ),
    dict(
        key="bill_of_rights",
        split="train",
        title="The Constitution of the United States: Amendments I-III",
        context=(
            "The first ten amendments to the Constitution of the United States, "
            "known as the Bill of Rights, were ratified on December 15, 1791. The "
            "first three read: Amendment I. Congress shall make no law respecting "
            "an establishment of religion, or prohibiting the free exercise "
            "thereof; or abridging the freedom of speech, or of the press; or the "
            "right of the people peaceably to assemble, and to petition the "
            "Government for a redress of grievances. Amendment II. A well regulated "
            "Militia, being necessary to the security of a free State, the right of "
            "the people to keep and bear Arms, shall not be infringed. Amendment "
            "III. No Soldier shall, in time of peace be quartered in any house, "
            "without the consent of the Owner, nor in time of war, but in a manner "
            "to be prescribed by law."
        ),
        questions=[
            ("When was the Bill of Rights ratified?", "December 15, 1791"),
            ("What are the first ten amendments to the Constitution known as?",
             "the Bill of Rights"),
            ("What may Congress make no law respecting?",
             "an establishment of religion"),
            ("Which freedoms may Congress not abridge?",
             "the freedom of speech, or of the press"),
            ("For what may the people petition the Government?",
             "a redress of grievances"),
            ("What does the Second Amendment call necessary to the security of a "
             "free State?", "A well regulated Militia"),
            ("Which right shall not be infringed?",
             "the right of the people to keep and bear Arms"),
            ("Whose consent is needed to quarter a soldier in a house in time of "
             "peace?", "the Owner"),
            ("How may soldiers be quartered in time of war?",
             "in a manner to be prescribed by law"),
            ("How many amendments does the Constitution have today?", None),
        ],
    ),
    dict(
        key="declaration",
        split="train",
        title="The Declaration of Independence (1776): opening paragraphs",
        context=(
            "The Declaration of Independence was adopted by the Second Continental "
            "Congress on July 4, 1776. Its opening paragraphs read: When in the "
            "Course of human events, it becomes necessary for one people to "
            "dissolve the political bands which have connected them with another, "
            "and to assume among the powers of the earth, the separate and equal "
            "station to which the Laws of Nature and of Nature's God entitle them, "
            "a decent respect to the opinions of mankind requires that they should "
            "declare the causes which impel them to the separation. We hold these "
            "truths to be self-evident, that all men are created equal, that they "
            "are endowed by their Creator with certain unalienable Rights, that "
            "among these are Life, Liberty and the pursuit of Happiness. That to "
            "secure these rights, Governments are instituted among Men, deriving "
            "their just powers from the consent of the governed, That whenever any "
            "Form of Government becomes destructive of these ends, it is the Right "
            "of the People to alter or to abolish it, and to institute new "
            "Government, laying its foundation on such principles and organizing "
            "its powers in such form, as to them shall seem most likely to effect "
            "their Safety and Happiness."
        ),
        questions=[
            ("When was the Declaration of Independence adopted?", "July 4, 1776"),
            ("Who adopted the Declaration of Independence?",
             "the Second Continental Congress"),
            ("What does a decent respect to the opinions of mankind require?",
             "that they should declare the causes which impel them to the "
             "separation"),
            ("What is the first truth held to be self-evident?",
             "that all men are created equal"),
            ("By whom are men endowed with unalienable Rights?", "their Creator"),
            ("Which rights are among the unalienable Rights?",
             "Life, Liberty and the pursuit of Happiness"),
            ("From what do governments derive their just powers?",
             "the consent of the governed"),
            ("Why are governments instituted among men?", "to secure these rights"),
            ("What is the right of the people when a government becomes "
             "destructive of these ends?", "to alter or to abolish it"),
            ("What entitles a people to a separate and equal station?",
             "the Laws of Nature and of Nature's God"),
            ("Who wrote the Declaration of Independence?", None),
            ("In which city was the Declaration of Independence signed?", None),
        ],
    ),
    dict(
        key="moby_dick",
        split="train",
        title="Herman Melville, Moby-Dick (1851), chapter 1",
        context=(
            "Moby-Dick; or, The Whale, a novel by Herman Melville, was first "
            "published in 1851. Its first chapter, \"Loomings\", opens: Call me "
            "Ishmael. Some years ago—never mind how long precisely—having little or "
            "no money in my purse, and nothing particular to interest me on shore, "
            "I thought I would sail about a little and see the watery part of the "
            "world. It is a way I have of driving off the spleen and regulating the "
            "circulation. Whenever I find myself growing grim about the mouth; "
            "whenever it is a damp, drizzly November in my soul; whenever I find "
            "myself involuntarily pausing before coffin warehouses, and bringing up "
            "the rear of every funeral I meet; and especially whenever my hypos get "
            "such an upper hand of me, that it requires a strong moral principle to "
            "prevent me from deliberately stepping into the street, and methodically "
            "knocking people's hats off—then, I account it high time to get to sea "
            "as soon as I can. This is my substitute for pistol and ball. With a "
            "philosophical flourish Cato throws himself upon his sword; I quietly "
            "take to the ship. There is nothing surprising in this. If they but "
            "knew it, almost all men in their degree, some time or other, cherish "
            "very nearly the same feelings towards the ocean with me."
        ),
        questions=[
            ("Who wrote Moby-Dick?", "Herman Melville"),
            ("When was Moby-Dick first published?", "1851"),
            ("What is the title of the first chapter of Moby-Dick?", "Loomings"),
            ("What does the narrator ask to be called?", "Ishmael"),
            ("How much money did the narrator have in his purse?",
             "little or no money"),
            ("What part of the world did the narrator want to see?",
             "the watery part of the world"),
            ("Besides regulating the circulation, what is sailing a way of driving "
             "off?", "the spleen"),
            ("In which month is it in the narrator's soul when he goes to sea?",
             "November"),
            ("What is going to sea the narrator's substitute for?", "pistol and ball"),
            ("Who throws himself upon his sword?", "Cato"),
            ("Towards what do almost all men cherish the same feelings as the "
             "narrator?", "the ocean"),
            ("What is the name of the captain of the Pequod?", None),
        ],
    ),
    dict(
        key="pride_and_prejudice",
        split="train",
        title="Jane Austen, Pride and Prejudice (1813), chapter 1",
        context=(
            "Pride and Prejudice, a novel by Jane Austen, was first published in "
            "1813. Its first chapter begins: It is a truth universally "
            "acknowledged, that a single man in possession of a good fortune, must "
            "be in want of a wife. However little known the feelings or views of "
            "such a man may be on his first entering a neighbourhood, this truth is "
            "so well fixed in the minds of the surrounding families, that he is "
            "considered the rightful property of some one or other of their "
            "daughters. \"My dear Mr. Bennet,\" said his lady to him one day, "
            "\"have you heard that Netherfield Park is let at last?\" Mr. Bennet "
            "replied that he had not. \"But it is,\" returned she; \"for Mrs. Long "
            "has just been here, and she told me all about it.\" Mr. Bennet made no "
            "answer. \"Do you not want to know who has taken it?\" cried his wife "
            "impatiently. \"You want to tell me, and I have no objection to hearing "
            "it.\" This was invitation enough. \"Why, my dear, you must know, Mrs. "
            "Long says that Netherfield is taken by a young man of large fortune "
            "from the north of England; that he came down on Monday in a chaise and "
            "four to see the place, and was so much delighted with it, that he "
            "agreed with Mr. Morris immediately; that he is to take possession "
            "before Michaelmas, and some of his servants are to be in the house by "
            "the end of next week.\" \"What is his name?\" \"Bingley.\" \"Is he "
            "married or single?\" \"Oh! Single, my dear, to be sure! A single man "
            "of large fortune; four or five thousand a year. What a fine thing for "
            "our girls!\""
        ),
        questions=[
            ("Who wrote Pride and Prejudice?", "Jane Austen"),
            ("When was Pride and Prejudice first published?", "1813"),
            ("What must a single man in possession of a good fortune be in want "
             "of?", "a wife"),
            ("Which house has been let at last?", "Netherfield Park"),
            ("Who told Mrs. Bennet that Netherfield Park was let?",
             ("Mrs. Long", "for ")),
            ("Where does the young man who has taken Netherfield come from?",
             "the north of England"),
            ("On which day did the young man come down to see the place?", "Monday"),
            ("How did the young man travel to see the place?",
             "in a chaise and four"),
            ("With whom did the young man agree immediately?", "Mr. Morris"),
            ("Before which day is the young man to take possession?", "Michaelmas"),
            ("What is the name of the young man who has taken Netherfield?",
             "Bingley"),
            ("How large is the young man's fortune?", "four or five thousand a year"),
            ("How many daughters do the Bennets have?", None),
        ],
    ),
    dict(
        key="two_cities",
        split="train",
        title="Charles Dickens, A Tale of Two Cities (1859), book 1, chapter 1",
        context=(
            "A Tale of Two Cities, a novel by Charles Dickens, was published in "
            "1859. It opens: It was the best of times, it was the worst of times, "
            "it was the age of wisdom, it was the age of foolishness, it was the "
            "epoch of belief, it was the epoch of incredulity, it was the season of "
            "Light, it was the season of Darkness, it was the spring of hope, it "
            "was the winter of despair, we had everything before us, we had nothing "
            "before us, we were all going direct to Heaven, we were all going "
            "direct the other way—in short, the period was so far like the present "
            "period, that some of its noisiest authorities insisted on its being "
            "received, for good or for evil, in the superlative degree of "
            "comparison only. There were a king with a large jaw and a queen with a "
            "plain face, on the throne of England; there were a king with a large "
            "jaw and a queen with a fair face, on the throne of France."
        ),
        questions=[
            ("Who wrote A Tale of Two Cities?", "Charles Dickens"),
            ("When was A Tale of Two Cities published?", "1859"),
            ("It was the spring of what?", "hope"),
            ("It was the winter of what?", "despair"),
            ("Which epoch came with the epoch of belief?",
             "the epoch of incredulity"),
            ("In what degree of comparison did the noisiest authorities insist the "
             "period be received?", "the superlative degree of comparison only"),
            ("Who sat on the throne of England?",
             "a king with a large jaw and a queen with a plain face"),
            ("What kind of face had the queen on the throne of France?",
             "a fair face"),
            ("Which two cities does the title name?", None),
        ],
    ),
    dict(
        key="scandal_in_bohemia",
        split="train",
        title="Arthur Conan Doyle, A Scandal in Bohemia (1891), opening",
        context=(
            "\"A Scandal in Bohemia\", a short story by Arthur Conan Doyle, was "
            "first published in The Strand Magazine in 1891. It is narrated by Dr. "
            "Watson and begins: To Sherlock Holmes she is always the woman. I have "
            "seldom heard him mention her under any other name. In his eyes she "
            "eclipses and predominates the whole of her sex. It was not that he "
            "felt any emotion akin to love for Irene Adler. All emotions, and that "
            "one particularly, were abhorrent to his cold, precise but admirably "
            "balanced mind. He was, I take it, the most perfect reasoning and "
            "observing machine that the world has seen, but as a lover he would "
            "have placed himself in a false position. He never spoke of the softer "
            "passions, save with a gibe and a sneer. They were admirable things for "
            "the observer—excellent for drawing the veil from men's motives and "
            "actions. But for the trained reasoner to admit such intrusions into "
            "his own delicate and finely adjusted temperament was to introduce a "
            "distracting factor which might throw a doubt upon all his mental "
            "results. Grit in a sensitive instrument, or a crack in one of his own "
            "high-power lenses, would not be more disturbing than a strong emotion "
            "in a nature such as his. And yet there was but one woman to him, and "
            "that woman was the late Irene Adler, of dubious and questionable "
            "memory."
        ),
        questions=[
            ("Who wrote A Scandal in Bohemia?", "Arthur Conan Doyle"),
            ("In which magazine was A Scandal in Bohemia first published?",
             "The Strand Magazine"),
            ("In which year was A Scandal in Bohemia first published?", "1891"),
            ("Who narrates A Scandal in Bohemia?", "Dr. Watson"),
            ("What is she always to Sherlock Holmes?", ("the woman", "always ")),
            ("For whom did Holmes feel no emotion akin to love?",
             ("Irene Adler", "love for ")),
            ("What does Watson call Holmes?",
             "the most perfect reasoning and observing machine that the world has "
             "seen"),
            ("How did Holmes speak of the softer passions?", "with a gibe and a sneer"),
            ("What would be no more disturbing than a strong emotion in Holmes's "
             "nature?",
             "Grit in a sensitive instrument, or a crack in one of his own "
             "high-power lenses"),
            ("On which street does Sherlock Holmes live?", None),
        ],
    ),
    dict(
        key="frankenstein",
        split="train",
        title="Mary Shelley, Frankenstein (1818), letter 1",
        context=(
            "Frankenstein; or, The Modern Prometheus, a novel by Mary Shelley, was "
            "first published in 1818. It opens with letters from the explorer "
            "Robert Walton to his sister: Letter 1. To Mrs. Saville, England. St. "
            "Petersburgh, Dec. 11th, 17—. You will rejoice to hear that no disaster "
            "has accompanied the commencement of an enterprise which you have "
            "regarded with such evil forebodings. I arrived here yesterday, and my "
            "first task is to assure my dear sister of my welfare and increasing "
            "confidence in the success of my undertaking. I am already far north of "
            "London, and as I walk in the streets of Petersburgh, I feel a cold "
            "northern breeze play upon my cheeks, which braces my nerves and fills "
            "me with delight."
        ),
        questions=[
            ("Who wrote Frankenstein?", "Mary Shelley"),
            ("When was Frankenstein first published?", "1818"),
            ("What is the subtitle of Frankenstein?", "The Modern Prometheus"),
            ("Who writes the letters that open Frankenstein?", "Robert Walton"),
            ("To whom is the first letter addressed?", "Mrs. Saville"),
            ("From which city is the first letter written?", "St. Petersburgh"),
            ("When did the letter writer arrive?", "yesterday"),
            ("What does the letter writer feel play upon his cheeks?",
             "a cold northern breeze"),
            ("What is the name of the ship the letter writer sails on?", None),
        ],
    ),
    dict(
        key="second_inaugural",
        split="train",
        title="Abraham Lincoln, Second Inaugural Address (1865), closing",
        context=(
            "Abraham Lincoln gave his second inaugural address on March 4, 1865, "
            "weeks before the end of the American Civil War. It closes: With malice "
            "toward none, with charity for all, with firmness in the right as God "
            "gives us to see the right, let us strive on to finish the work we are "
            "in, to bind up the nation's wounds, to care for him who shall have "
            "borne the battle and for his widow and his orphan, to do all which may "
            "achieve and cherish a just and lasting peace among ourselves and with "
            "all nations."
        ),
        questions=[
            ("When did Lincoln give his second inaugural address?", "March 4, 1865"),
            ("Toward whom did Lincoln ask for malice?", "none"),
            ("What did Lincoln want to bind up?", "the nation's wounds"),
            ("Besides him who shall have borne the battle, for whom should the "
             "nation care?", "his widow and his orphan"),
            ("What kind of peace did Lincoln hope to achieve?",
             "a just and lasting peace"),
            ("With what should we act in the right, according to Lincoln?",
             "firmness"),
            ("Who was Lincoln's vice president in 1865?", None),
        ],
    ),
    # ----------------------------------------------------------- validation
    dict(
        key="gettysburg",
        split="validation",
        title="Abraham Lincoln, the Gettysburg Address (1863), Bliss copy",
        context=(
            "Abraham Lincoln delivered the Gettysburg Address on November 19, 1863, "
            "at the dedication of the Soldiers' National Cemetery in Gettysburg, "
            "Pennsylvania. The text of the Bliss copy reads: Four score and seven "
            "years ago our fathers brought forth on this continent, a new nation, "
            "conceived in Liberty, and dedicated to the proposition that all men "
            "are created equal. Now we are engaged in a great civil war, testing "
            "whether that nation, or any nation so conceived and so dedicated, can "
            "long endure. We are met on a great battle-field of that war. We have "
            "come to dedicate a portion of that field, as a final resting place for "
            "those who here gave their lives that that nation might live. It is "
            "altogether fitting and proper that we should do this. But, in a larger "
            "sense, we can not dedicate—we can not consecrate—we can not hallow—this "
            "ground. The brave men, living and dead, who struggled here, have "
            "consecrated it, far above our poor power to add or detract. The world "
            "will little note, nor long remember what we say here, but it can never "
            "forget what they did here. It is for us the living, rather, to be "
            "dedicated here to the unfinished work which they who fought here have "
            "thus far so nobly advanced. It is rather for us to be here dedicated "
            "to the great task remaining before us—that from these honored dead we "
            "take increased devotion to that cause for which they gave the last "
            "full measure of devotion—that we here highly resolve that these dead "
            "shall not have died in vain—that this nation, under God, shall have a "
            "new birth of freedom—and that government of the people, by the people, "
            "for the people, shall not perish from the earth."
        ),
        questions=[
            ("When did Lincoln deliver the Gettysburg Address?",
             ["November 19, 1863", "November 19, 1863,"]),
            ("At which event was the Gettysburg Address delivered?",
             ["the dedication of the Soldiers' National Cemetery",
              "dedication of the Soldiers' National Cemetery in Gettysburg, "
              "Pennsylvania"]),
            ("How long before the address did the fathers bring forth a new "
             "nation?", ["Four score and seven years", "Four score and seven years ago"]),
            ("In what was the new nation conceived?", ["Liberty"]),
            ("To which proposition was the new nation dedicated?",
             ["that all men are created equal", "all men are created equal"]),
            ("In what kind of war were they engaged?",
             ["a great civil war", "civil war"]),
            ("What had they come to dedicate?",
             ["a portion of that field",
              "a portion of that field, as a final resting place"]),
            ("Who consecrated the ground?",
             ["The brave men, living and dead, who struggled here",
              "The brave men, living and dead"]),
            ("What can the world never forget?", ["what they did here"]),
            ("What shall the nation have under God?",
             ["a new birth of freedom", "new birth of freedom"]),
            ("What shall not perish from the earth?",
             ["government of the people, by the people, for the people"]),
            ("How many soldiers died in the battle of Gettysburg?", None),
            ("How many minutes did Lincoln speak?", None),
        ],
    ),
    dict(
        key="ruth",
        split="validation",
        title="Ruth 1:1-8 (King James Version)",
        context=bible(("Ruth.1.1", "Ruth.1.8")),
        questions=[
            ("When was there a famine in the land?",
             ["in the days when the judges ruled",
              "the days when the judges ruled"]),
            ("Where did the man of Beth-lehem-judah go to sojourn?",
             [("the country of Moab", "sojourn in "), ("Moab", "sojourn in ")]),
            ("What was the name of the man of Beth-lehem-judah?", [("Elimelech", "name of the man was ")]),
            ("What was the name of Elimelech's wife?", [("Naomi", "wife ")]),
            ("What were the names of Elimelech's two sons?",
             [("Mahlon and Chilion", "sons ")]),
            ("Besides Orpah, what was the name of the wives of the sons?",
             [("Ruth", "the other ")]),
            ("How long did they dwell in Moab?", ["about ten years", "ten years"]),
            ("Why did Naomi return from the country of Moab?",
             ["the LORD had visited his people in giving them bread",
              "how that the LORD had visited his people in giving them bread"]),
            ("Where did Naomi tell her daughters in law to return?",
             ["each to her mother’s house", "her mother’s house"]),
            ("Whom did Ruth marry after coming to Judah?", None),
        ],
    ),
    dict(
        key="jonah",
        split="validation",
        title="Jonah 1:1-5 (King James Version)",
        context=bible(("Jonah.1.1", "Jonah.1.5")),
        questions=[
            ("Whose son was Jonah?", ["Amittai", "the son of Amittai"]),
            ("To which city did the LORD tell Jonah to go?",
             ["Nineveh", "Nineveh, that great city"]),
            ("Where did Jonah flee?",
             [("Tarshish", "flee unto "), ("unto Tarshish", "flee ")]),
            ("Where did Jonah find a ship?", ["Joppa"]),
            ("What did the LORD send out into the sea?", ["a great wind"]),
            ("What did the mariners cast forth into the sea?",
             ["the wares that were in the ship", "the wares"]),
            ("What was Jonah doing in the sides of the ship?",
             ["he lay, and was fast asleep", "fast asleep"]),
            ("How long was Jonah in the belly of the fish?", None),
        ],
    ),
    dict(
        key="alice",
        split="validation",
        title="Lewis Carroll, Alice's Adventures in Wonderland (1865), chapter 1",
        context=(
            "Alice's Adventures in Wonderland, by Lewis Carroll, was first "
            "published in 1865. Its first chapter, \"Down the Rabbit-Hole\", "
            "begins: Alice was beginning to get very tired of sitting by her sister "
            "on the bank, and of having nothing to do: once or twice she had peeped "
            "into the book her sister was reading, but it had no pictures or "
            "conversations in it, \"and what is the use of a book,\" thought Alice "
            "\"without pictures or conversations?\" So she was considering in her "
            "own mind (as well as she could, for the hot day made her feel very "
            "sleepy and stupid), whether the pleasure of making a daisy-chain would "
            "be worth the trouble of getting up and picking the daisies, when "
            "suddenly a White Rabbit with pink eyes ran close by her. There was "
            "nothing so very remarkable in that; nor did Alice think it so very "
            "much out of the way to hear the Rabbit say to itself, \"Oh dear! Oh "
            "dear! I shall be late!\" (when she thought it over afterwards, it "
            "occurred to her that she ought to have wondered at this, but at the "
            "time it all seemed quite natural); but when the Rabbit actually took a "
            "watch out of its waistcoat-pocket, and looked at it, and then hurried "
            "on, Alice started to her feet, for it flashed across her mind that she "
            "had never before seen a rabbit with either a waistcoat-pocket, or a "
            "watch to take out of it, and burning with curiosity, she ran across "
            "the field after it, and fortunately was just in time to see it pop "
            "down a large rabbit-hole under the hedge."
        ),
        questions=[
            ("Who wrote Alice's Adventures in Wonderland?", ["Lewis Carroll"]),
            ("When was Alice's Adventures in Wonderland first published?", ["1865"]),
            ("What is the first chapter called?", ["Down the Rabbit-Hole"]),
            ("Where was Alice sitting?",
             ["by her sister on the bank", "on the bank"]),
            ("What did the book Alice's sister was reading not have?",
             [("pictures or conversations", "no ")]),
            ("What was Alice thinking of making?", ["a daisy-chain"]),
            ("What colour were the White Rabbit's eyes?", ["pink"]),
            ("What did the Rabbit take out of its waistcoat-pocket?",
             [("a watch", "took ")]),
            ("Where did the Rabbit pop down?",
             ["a large rabbit-hole under the hedge", "a large rabbit-hole"]),
            ("What made Alice feel very sleepy and stupid?", ["the hot day"]),
            ("What was the name of Alice's sister?", None),
            ("What was the name of Alice's cat?", None),
        ],
    ),
    dict(
        key="amendments_13_19",
        split="validation",
        title="The Constitution of the United States: Amendments XIII and XIX",
        context=(
            "The Thirteenth Amendment to the Constitution of the United States was "
            "ratified in 1865, and the Nineteenth Amendment in 1920. The Thirteenth "
            "reads: Section 1. Neither slavery nor involuntary servitude, except as "
            "a punishment for crime whereof the party shall have been duly "
            "convicted, shall exist within the United States, or any place subject "
            "to their jurisdiction. Section 2. Congress shall have power to enforce "
            "this article by appropriate legislation. The Nineteenth reads: The "
            "right of citizens of the United States to vote shall not be denied or "
            "abridged by the United States or by any State on account of sex. "
            "Congress shall have power to enforce this article by appropriate "
            "legislation."
        ),
        questions=[
            ("When was the Thirteenth Amendment ratified?", ["1865"]),
            ("When was the Nineteenth Amendment ratified?", ["1920"]),
            ("What does the Thirteenth Amendment forbid within the United States?",
             ["slavery nor involuntary servitude",
              "Neither slavery nor involuntary servitude"]),
            ("When may involuntary servitude still be imposed?",
             ["as a punishment for crime whereof the party shall have been duly "
              "convicted", "as a punishment for crime"]),
            ("On account of what may the right to vote not be denied under the "
             "Nineteenth Amendment?", ["sex"]),
            ("How may Congress enforce the Thirteenth Amendment?",
             [("by appropriate legislation", "Section 2. ")]),
            ("Whose right to vote does the Nineteenth Amendment protect?",
             ["citizens of the United States"]),
            ("Which amendment abolished the poll tax?", None),
        ],
    ),
    dict(
        key="daniel",
        split="validation",
        title="Daniel 6:16-23 (King James Version)",
        context=bible(("Dan.6.16", "Dan.6.23")),
        questions=[
            ("Where was Daniel cast?",
             [("the den of lions", "into "), ("into the den of lions", "cast him ")]),
            ("What was laid upon the mouth of the den?", ["a stone"]),
            ("With what did the king seal the stone?",
             ["his own signet", "his own signet, and with the signet of his lords"]),
            ("How did the king pass the night?", ["fasting"]),
            ("When did the king go to the den of lions?",
             ["very early in the morning", "early in the morning"]),
            ("Whom did God send to shut the lions' mouths?", ["his angel"]),
            ("Why was no manner of hurt found upon Daniel?",
             ["because he believed in his God", "he believed in his God"]),
            ("What did Daniel first say to the king from the den?",
             ["O king, live for ever"]),
            ("What was the name of the king who cast Daniel to the lions?", None),
        ],
    ),
]


# === Building ===


def read_bible():
    """{verse_id: KJV text} from the shipped corpus."""
    verses = {}
    for path in sorted(BIBLE_DIR.glob("*.tsv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as lines:
            next(lines)
            for line in lines:
                verse_id, english, _ = line.rstrip("\n").split("\t")
                verses[verse_id] = english
    return verses


def bible_text(verses, first, last):
    ids = list(verses)
    start, stop = ids.index(first), ids.index(last)
    if stop < start:
        raise ValueError(f"Verse range {first}-{last} is empty.")
    return " ".join(verses[verse_id] for verse_id in ids[start : stop + 1])


def locate(context, answer, where):
    """The character offset of `answer` (text, or (text, after_anchor))."""
    text, anchor = answer if isinstance(answer, tuple) else (answer, None)
    if anchor is None:
        count = context.count(text)
        if count != 1:
            raise ValueError(
                f"{where}: answer {text!r} occurs {count} times in its context; "
                "give an (answer, after) anchor."
            )
        return text, context.index(text)
    anchor_at = context.find(anchor)
    if anchor_at < 0:
        raise ValueError(f"{where}: anchor {anchor!r} not in the context.")
    start = context.find(text, anchor_at)
    if start < 0:
        raise ValueError(f"{where}: answer {text!r} not after {anchor!r}.")
    return text, start


def build():
    """{split: SQuAD v2.0 JSON object}."""
    verses = read_bible()
    data = {split: [] for split in SPLITS}
    errors = []
    for passage in PASSAGES:
        context = passage["context"]
        if isinstance(context, tuple) and context[0] == "bible":
            context = bible_text(verses, *context[1])
        qas = []
        for number, (question, answers) in enumerate(passage["questions"], start=1):
            qid = f"{passage['key']}_{number:02d}"
            if answers is None:
                qas.append(dict(id=qid, question=question, answers=[],
                                is_impossible=True))
                continue
            if not isinstance(answers, list):
                answers = [answers]
            located = []
            for answer in answers:
                try:
                    text, start = locate(context, answer, qid)
                except ValueError as error:
                    errors.append(str(error))
                    continue
                assert context[start : start + len(text)] == text
                located.append(dict(text=text, answer_start=start))
            qas.append(dict(id=qid, question=question, answers=located,
                            is_impossible=False))
        data[passage["split"]].append(
            dict(title=passage["title"], paragraphs=[dict(context=context, qas=qas)])
        )
    if errors:
        raise ValueError("Answers not located:\n" + "\n".join(errors))
    return {
        split: dict(version="v2.0", data=articles) for split, articles in data.items()
    }


def serialize(squad):
    return json.dumps(squad, ensure_ascii=False, indent=1) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh build with the files; write nothing")
    args = parser.parse_args(argv)
    built = build()
    status = 0
    for split, squad in built.items():
        path = OUTPUT_DIR / f"{split}.json"
        text = serialize(squad)
        questions = [qa for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]]
        unanswerable = sum(qa["is_impossible"] for qa in questions)
        summary = (f"{split}: {len(squad['data'])} passages, {len(questions)} "
                   f"questions ({unanswerable} unanswerable)")
        if args.check:
            same = path.exists() and path.read_text(encoding="utf-8") == text
            print(f"{summary}: {'up to date' if same else 'DIFFERS from ' + str(path)}")
            status |= not same
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{summary} -> {path}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
