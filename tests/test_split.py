from flows.split import normalize, split_paragraphs


def test_paragraphs_are_blank_line_blocks_with_whitespace_collapsed():
    assert split_paragraphs("One  two\nthree.\n\n\n  Four.\n \nFive") == ["One two three.", "Four.", "Five"]
    assert split_paragraphs("\n\n") == []


def test_typographic_variants_normalise_identically():
    a = "The Pentagon's response — “firm” – was clear…"
    b = "the pentagon’s  RESPONSE - \"firm\" -- was clear..."
    assert normalize(a) == normalize(b) == "the pentagons response firm was clear"


def test_nfkc_folds_compatibility_forms():
    assert normalize("ﬁnance №５") == normalize("finance No5")


def test_sentences_normalise_to_the_same_words_as_the_paragraph():
    from flows.split import normalize_sentences

    text = "He said: “We’re there.” The U.S. has 2,500 troops… Really? Yes! (Officials agreed.) Done"
    assert " ".join(normalize_sentences(text)) == normalize(text)
    assert normalize_sentences("He said it. She agreed!") == ["he said it", "she agreed"]
    assert normalize_sentences("...") == []


def test_scripts_without_spaces_become_one_word_a_character():
    # Written for the test: Chinese and Japanese runs, Thai with a combining vowel sign, mixed with Latin.
    assert normalize("北京的天气很好。Tokyo東京タワー, ok") == "北 京 的 天 气 很 好 tokyo 東 京 タ ワ ー ok"
    assert normalize("ไทยดี and 中") == "ไ ท ย ด and 中"
    assert normalize("中文") == normalize(" 中  文 ")


def test_sentences_are_those_the_stored_sentence_keys_were_made_from():
    """Sentence keys stored by earlier runs must keep matching: the split equals the lookbehind form it replaced."""
    import json
    import random
    import re

    from conftest import SHARED

    from flows.split import normalize_paragraphs

    earlier = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+|(?<=[。！？])[」』]*")
    texts = ["He said: “We’re there.” The U.S. has 2,500 troops… Really?! Yes!» (Officials agreed.) Done",
             "北京的天气很好。」东京。Tokyo is big！ Ok？ 'Quoted.' ... . ! Next", "It's “done.”  Again…  and…"]
    # Random strings of every mark, closer and space among letters: the corner cases a corpus rarely holds.
    rng = random.Random(5)
    chars = list(".!?…。！？\"'”’»)]」』  \t\n") + list("abc中文") * 3
    texts += ["".join(rng.choice(chars) for _ in range(rng.randrange(0, 30))) for _ in range(20_000)]
    gold = SHARED / "benchmarks" / "article-extraction" / "ground-truth.json"
    if gold.is_file():
        texts += [p for page in json.loads(gold.read_text(encoding="utf-8")).values()
                  for p in str(page.get("articleBody", "")).split("\n") if p.strip()]
    expected = [[n for n in map(normalize, earlier.split(t)) if n] for t in texts]
    assert normalize_paragraphs(texts) == expected
    assert len(texts) > 21_000 or not gold.is_file()


def test_ascii_takes_a_shorter_path_to_the_same_words():
    """The ASCII path equals the full one on every ASCII character (pieces reach both without NUL, and the full path
    after the folds, which turn the backquote into an apostrophe)."""
    import random

    from flows.recipes import _words_ascii, _words_unicode, normalize

    rng = random.Random(4)
    chars = [chr(c) for c in range(1, 128)] + list("ab  ''`")
    pieces = ["".join(rng.choice(chars) for _ in range(rng.randrange(0, 30))) for _ in range(20_000)]
    assert _words_ascii(pieces) == _words_unicode([p.replace("`", "'") for p in pieces])
    assert normalize("Don`t  STOP--it's_ok\t(really)\x00end") == normalize("Don’t stop — it’s_ok really end") == \
        "dont stop its_ok really end"
