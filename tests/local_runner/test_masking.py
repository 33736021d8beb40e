"""The streaming masker: examples of each rule, and chunking-invariance as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codomyrmex.ci_cd_automation.local_runner.masking import MASK, SecretMasker


def reference_mask(text: str, patterns: tuple[str, ...]) -> str:
    """The rule written the slow, obvious way: cover every occurrence, one MASK per run."""
    covered = [False] * len(text)
    for pattern in patterns:
        for start in range(len(text)):
            if text.startswith(pattern, start):
                for index in range(start, start + len(pattern)):
                    covered[index] = True
    out: list[str] = []
    for index, char in enumerate(text):
        if not covered[index]:
            out.append(char)
        elif index == 0 or not covered[index - 1]:
            out.append(MASK)
    return "".join(out)


def masked_in_chunks(masker: SecretMasker, text: str, cuts: list[int]) -> str:
    stream = masker.stream()
    out: list[str] = []
    previous = 0
    for cut in sorted({min(cut, len(text)) for cut in cuts}):
        out.append(stream.feed(text[previous:cut]))
        assert stream.held <= max(0, masker.longest - 1)
        previous = cut
    out.append(stream.feed(text[previous:]))
    out.append(stream.close())
    return "".join(out)


# A small alphabet makes overlaps, repeats and partial matches frequent.
ALPHABET = "ab\n *"
texts = st.text(alphabet=ALPHABET, max_size=120)
secret_lists = st.lists(st.text(alphabet=ALPHABET, max_size=9), max_size=4)
cut_lists = st.lists(st.integers(min_value=0, max_value=120), max_size=12)


@st.composite
def texts_with_secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Secrets, and a text made of random pieces, secrets and halves of secrets."""
    secrets = draw(secret_lists)
    piece = st.text(alphabet=ALPHABET, max_size=6)
    if secrets:
        fragments = [f for s in secrets for f in (s, s, s[: len(s) // 2], s[len(s) // 2 :])]
        piece = st.one_of(piece, st.sampled_from(fragments))
    return "".join(draw(st.lists(piece, max_size=20))), secrets


@settings(max_examples=400, deadline=None)
@given(text=texts, secrets=secret_lists, cuts=cut_lists)
def test_streaming_equals_one_shot_and_reference(
    text: str, secrets: list[str], cuts: list[int]
) -> None:
    masker = SecretMasker(secrets)
    expected = reference_mask(text, masker.patterns)
    assert masker.mask(text) == expected
    assert masked_in_chunks(masker, text, cuts) == expected


@settings(max_examples=400, deadline=None)
@given(case=texts_with_secrets(), cuts=cut_lists)
def test_streaming_equals_reference_on_texts_full_of_secrets(
    case: tuple[str, list[str]], cuts: list[int]
) -> None:
    text, secrets = case
    masker = SecretMasker(secrets)
    expected = reference_mask(text, masker.patterns)
    assert masker.mask(text) == expected
    assert masked_in_chunks(masker, text, cuts) == expected


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    secrets=st.lists(st.text(alphabet="ab\n ", max_size=9), max_size=4),
    cuts=cut_lists,
)
def test_no_secret_survives(text: str, secrets: list[str], cuts: list[int]) -> None:
    masker = SecretMasker(secrets)
    # Plant every secret in the text too, so that there is something to mask.
    planted = text + "".join(f"a{secret}b" for secret in secrets)
    output = masked_in_chunks(masker, planted, cuts)
    for pattern in masker.patterns:
        assert pattern not in output
    for secret in secrets:
        if len(secret.strip()) >= 4:
            assert secret.strip() not in output


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60), secret=st.text(min_size=4, max_size=12), cuts=cut_lists)
def test_any_unicode(text: str, secret: str, cuts: list[int]) -> None:
    masker = SecretMasker([secret])
    planted = text + secret + text
    assert masked_in_chunks(masker, planted, cuts) == reference_mask(planted, masker.patterns)


def test_secret_split_across_chunks() -> None:
    stream = SecretMasker(["hunter22"]).stream()
    parts = [stream.feed("password: hun"), stream.feed("ter"), stream.feed("22 ok\n")]
    assert "".join(parts) + stream.close() == "password: *** ok\n"
    assert parts[0] == "password: "  # only the possible start of the secret is held back


def test_nothing_is_held_back_when_no_secret_can_start() -> None:
    stream = SecretMasker(["hunter22"]).stream()
    assert stream.feed("done\n") == "done\n"
    assert stream.held == 0


def test_hold_back_is_bounded_by_longest_secret() -> None:
    stream = SecretMasker(["aaaaaaaa"]).stream()
    assert stream.feed("a" * 7) == ""
    assert stream.held == 7
    assert stream.feed("b") == "aaaaaaab"
    assert stream.close() == ""


def test_secret_at_end_of_stream_is_masked_on_close() -> None:
    stream = SecretMasker(["hunter22", "hunter22-long"]).stream()
    assert stream.feed("x hunter22") == "x "  # could still become the longer secret
    assert stream.close() == MASK


def test_unfinished_secret_prefix_is_released_on_close() -> None:
    stream = SecretMasker(["hunter22"]).stream()
    assert stream.feed("x hunter2") == "x "
    assert stream.close() == "hunter2"


@pytest.mark.parametrize("secret", ["", "   ", "abc", " ab \n"])
def test_short_and_empty_secrets_are_ignored(secret: str) -> None:
    masker = SecretMasker([secret])
    assert masker.patterns == ()
    assert masker.mask("abc ab") == "abc ab"
    stream = masker.stream()
    assert stream.feed("abc") == "abc"
    assert stream.held == 0


def test_short_lines_of_a_multiline_secret_are_ignored_but_not_the_whole() -> None:
    masker = SecretMasker(["ab\ncdefg\r\nxyz "])
    assert masker.patterns == ("ab\ncdefg\r\nxyz", "cdefg")
    assert masker.mask("ab\ncdefg\r\nxyz") == MASK
    assert masker.mask("ab then cdefg then xyz") == f"ab then {MASK} then xyz"


def test_multiline_secret_lines_are_masked_separately() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n"
    masker = SecretMasker([key])
    assert masker.mask(key) == f"{MASK}\n"
    # Printed with other line endings, or one line at a time, each line is still hidden.
    assert masker.mask(key.replace("\n", "\r\n")) == f"{MASK}\r\n{MASK}\r\n{MASK}\r\n"
    assert masker.mask("line: MIIEvQIBADANBg.") == f"line: {MASK}."


def test_overlapping_secrets_are_hidden_whole() -> None:
    masker = SecretMasker(["abcdef", "defghi"])
    assert masker.mask("xabcdefghiy") == f"x{MASK}y"


def test_longest_secret_wins_over_one_it_contains() -> None:
    masker = SecretMasker(["token", "token-extended"])
    assert masker.mask("[token-extended]") == f"[{MASK}]"
    assert masker.mask("[token]") == f"[{MASK}]"


def test_self_overlapping_occurrences_are_all_covered() -> None:
    assert SecretMasker(["abab"]).mask("xababab.") == f"x{MASK}."
    assert SecretMasker(["aaaa"]).mask("aaaaa b") == f"{MASK} b"


def test_adjacent_occurrences_make_one_mask() -> None:
    assert SecretMasker(["abcd"]).mask("abcdabcd abcd") == f"{MASK} {MASK}"


def test_no_secrets_is_identity() -> None:
    masker = SecretMasker([])
    stream = masker.stream()
    assert stream.feed("anything") == "anything"
    assert stream.close() == ""


def test_feed_after_close_is_an_error() -> None:
    stream = SecretMasker(["abcd"]).stream()
    stream.close()
    with pytest.raises(ValueError, match="after close"):
        stream.feed("x")
