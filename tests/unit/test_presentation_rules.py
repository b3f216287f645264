"""The rules of how a name looks in chat: colours, the contrast rule, flair text, slugs."""

from __future__ import annotations

import pytest

from idp.users.presentation import (
    DARK_BACKGROUND,
    LIGHT_BACKGROUND,
    MAX_FLAIR_LENGTH,
    PresentationError,
    checked_color,
    checked_flair_text,
    checked_name_color,
    checked_slug,
    contrast,
)

# -- an independent WCAG 2.2 reference, to check the module against ------------------------------


def _reference_luminance(color: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def _reference_contrast(a: str, b: str) -> float:
    high, low = sorted((_reference_luminance(a), _reference_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# -- colour syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("#ff0000", "#FF0000"),
        ("#FF0000", "#FF0000"),
        ("#9146ff", "#9146FF"),
        ("#aBcDeF", "#ABCDEF"),
        ("#000000", "#000000"),
        ("#ffffff", "#FFFFFF"),
    ],
)
def test_a_colour_is_hash_and_six_hex_digits_in_any_case_and_comes_back_upper_case(
    value: str, normalised: str
) -> None:
    assert checked_color(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "red",
        "#FFF",
        "#GGGGGG",
        "FF0000",
        "#FF00001",
        "",
        "#",
        "#FF000",
        " #FF0000",
        "#FF0000 ",
        "#FF0000\n",
        "##FF0000",
        "0xFF0000",
        "rgb(255,0,0)",
        "#FF0000FF",
        "#\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits are digits, not hex digits
    ],
)
def test_any_other_way_of_writing_a_colour_is_refused(value: str) -> None:
    with pytest.raises(PresentationError, match="#RRGGBB"):
        checked_color(value)


@pytest.mark.parametrize("value", ["red", "#FFF", "#GGGGGG", "FF0000", "#FF00001"])
def test_a_name_colour_must_first_be_written_hash_rrggbb(value: str) -> None:
    with pytest.raises(PresentationError, match="#RRGGBB"):
        checked_name_color(value)


# -- the contrast rule -----------------------------------------------------------------------------


def test_the_two_chat_backgrounds_are_white_and_zinc_900() -> None:
    assert LIGHT_BACKGROUND == "#FFFFFF"
    assert DARK_BACKGROUND == "#18181B"


@pytest.mark.parametrize(
    ("color", "light", "dark"),
    [
        ("#FFFFFF", 1.0, 17.72),
        ("#000000", 21.0, 1.19),
        ("#FF0000", 4.0, 4.43),
        ("#9146FF", 4.64, 3.82),
        ("#0000FF", 8.59, 2.06),
        ("#00FF00", 1.37, 12.91),
        ("#FF8C00", 2.33, 7.6),
    ],
)
def test_contrast_ratios_are_those_of_wcag(color: str, light: float, dark: float) -> None:
    assert contrast(color, LIGHT_BACKGROUND) == pytest.approx(light, abs=0.01)
    assert contrast(color, DARK_BACKGROUND) == pytest.approx(dark, abs=0.01)
    assert contrast(LIGHT_BACKGROUND, color) == contrast(color, LIGHT_BACKGROUND)


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("#FF0000", "#FF0000"),  # 4.0:1 on light, 4.4:1 on dark
        ("#9146FF", "#9146FF"),  # Twitch purple: 4.6:1 and 3.8:1
        ("#9146ff", "#9146FF"),
        ("#e91e63", "#E91E63"),
        ("#808080", "#808080"),
        ("#1E90FF", "#1E90FF"),
    ],
)
def test_saturated_mid_tones_readable_on_both_themes_are_accepted(
    value: str, normalised: str
) -> None:
    assert checked_name_color(value) == normalised


@pytest.mark.parametrize(
    ("value", "theme"),
    [
        ("#FFFFFF", "light"),
        ("#000000", "dark"),
        ("#0000FF", "dark"),  # 8.6:1 on light but 2.1:1 on dark: too dark on dark
        ("#00FF00", "light"),  # 1.4:1 on light: too light on light
        ("#FF8C00", "light"),  # dark orange, 2.3:1 on light
        ("#18181B", "dark"),  # the dark background itself
        ("#fafafa", "light"),
    ],
)
def test_colours_hard_to_read_on_one_theme_are_refused_saying_which_theme(
    value: str, theme: str
) -> None:
    with pytest.raises(PresentationError) as refused:
        checked_name_color(value)
    message = str(refused.value)
    assert f"on the {theme} chat theme" in message
    assert value.upper() in message
    assert "3:1" in message


def test_the_refusal_gives_the_measured_contrast() -> None:
    with pytest.raises(PresentationError, match=r"contrast 2\.06:1"):
        checked_name_color("#0000FF")


def test_a_contrast_just_under_the_rule_never_reads_as_meeting_it() -> None:
    with pytest.raises(PresentationError, match=r"contrast 2\.9\d:1"):
        checked_name_color("#8A2BE2")


@pytest.mark.parametrize("level", range(0, 256, 3))
def test_every_grey_is_accepted_exactly_when_both_contrasts_reach_three_to_one(level: int) -> None:
    grey = f"#{level:02X}{level:02X}{level:02X}"
    readable = (
        _reference_contrast(grey, "#FFFFFF") >= 3.0 and _reference_contrast(grey, "#18181B") >= 3.0
    )
    if readable:
        assert checked_name_color(grey) == grey
    else:
        with pytest.raises(PresentationError):
            checked_name_color(grey)


@pytest.mark.parametrize(
    "color", ["#FF0000", "#00FF00", "#0000FF", "#FF00FF", "#00FFFF", "#FFFF00", "#9146FF"]
)
def test_primary_and_secondary_hues_follow_the_reference_computation(color: str) -> None:
    light, dark = _reference_contrast(color, "#FFFFFF"), _reference_contrast(color, "#18181B")
    readable = min(light, dark) >= 3.0
    try:
        checked_name_color(color)
    except PresentationError:
        accepted = False
    else:
        accepted = True
    assert accepted is readable


# -- flair text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "OG",
        "🔥 OG",
        "👩\u200d💻",  # woman technologist: a zero-width-joiner sequence
        "❤️",  # red heart: U+2764 with variation selector 16
        "🏳️\u200d🌈",  # rainbow flag: VS16 and ZWJ
        "👍🏽",  # skin-tone modifier
        "1️⃣",  # keycap sequence
        "🇫🇷",  # regional indicators
        "Día de campeón",
        "日本語",
        "x" * MAX_FLAIR_LENGTH,
    ],
)
def test_short_text_and_emoji_make_a_flair(text: str) -> None:
    assert checked_flair_text(text) == text


def test_the_flair_limit_is_32_characters() -> None:
    assert MAX_FLAIR_LENGTH == 32


def test_a_flair_is_trimmed_and_normalised_to_nfc() -> None:
    assert checked_flair_text("  OG  ") == "OG"
    assert checked_flair_text("Cafe\u0301") == "Caf\u00e9"


def test_the_length_is_counted_after_trimming() -> None:
    assert checked_flair_text("  " + "x" * MAX_FLAIR_LENGTH + "  ") == "x" * MAX_FLAIR_LENGTH


@pytest.mark.parametrize("text", ["", " ", "   \t  ", "\u00a0"])
def test_an_empty_flair_is_refused(text: str) -> None:
    with pytest.raises(PresentationError, match="some text or an emoji"):
        checked_flair_text(text)


@pytest.mark.parametrize("text", ["x" * (MAX_FLAIR_LENGTH + 1), "🔥" * 33, "a" * 500])
def test_a_flair_longer_than_32_characters_is_refused(text: str) -> None:
    with pytest.raises(PresentationError, match="at most 32 characters"):
        checked_flair_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "O\x00G",  # NUL
        "O\nG",
        "O\rG",
        "O\tG",
        "O\x1bG",  # ESC, as in terminal escape sequences
        "O\x7fG",  # DEL
        "O\x85G",  # NEL (a C1 control)
        "O\ud800G",  # a lone surrogate
        "O\ue000G",  # private use
        "O\u0378G",  # unassigned
    ],
)
def test_control_surrogate_private_and_unassigned_characters_are_refused(text: str) -> None:
    with pytest.raises(PresentationError, match="control characters"):
        checked_flair_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "OG\u202e",  # right-to-left override
        "\u202eGO",
        "O\u200bG",  # zero-width space
        "O\u2066G\u2069",  # left-to-right isolate and pop
        "O\u200eG",  # left-to-right mark
        "O\u00adG",  # soft hyphen
        "O\u2060G",  # word joiner
        "O\ufeffG",  # zero-width no-break space
        "OG\U000e0041\U000e0042",  # tag characters: invisible text smuggled in
    ],
)
def test_invisible_formatting_characters_are_refused(text: str) -> None:
    with pytest.raises(PresentationError, match="invisible formatting characters"):
        checked_flair_text(text)


def test_the_flair_errors_are_presentation_errors_which_are_value_errors() -> None:
    with pytest.raises(ValueError, match="flair"):
        checked_flair_text("")


# -- slugs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["vip", "founder", "sub-2026", "0day", "a", "a-", "x" * 63, "9"])
def test_a_slug_is_lower_case_letters_digits_and_dashes(slug: str) -> None:
    assert checked_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "VIP",
        "Vip",
        "-vip",
        "vip badge",
        "vip_badge",
        "vip.badge",
        "vip/badge",
        "vip\n",
        "été",
        "x" * 64,
        "../vip",
    ],
)
def test_anything_else_is_not_a_slug(slug: str) -> None:
    with pytest.raises(PresentationError, match="slug"):
        checked_slug(slug)
