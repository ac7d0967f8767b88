"""The collation locales a real mongod accepts, so that a collation the server refuses is refused here too.

Probed on the real mongod 6.0.5 (the one the tests run): every locale name Python's ``locale.locale_alias``
knows, the ones MongoDB documents ("Collation Locales and Default Parameters"), and each of them with every
documented ``@collation=`` variant; the server answered which it takes.  A later release's ICU may add a
locale: the refusal says where this list comes from.
"""

from __future__ import annotations

__all__ = ["LOCALES", "VARIANTS", "LOCALE_DEFAULTS"]

LOCALES = frozenset({
    "af", "am", "ar", "as", "az", "be", "bg", "bn", "bo", "bs", "bs_Cyrl", "ca", "chr", "cs", "cy", "da", "de",
    "de_AT", "dsb", "dz", "ee", "el", "en", "en_US", "en_US_POSIX", "eo", "es", "et", "fa", "fa_AF", "fi", "fil",
    "fo", "fr", "fr_CA", "ga", "gl", "gu", "ha", "haw", "he", "hi", "hr", "hsb", "hu", "hy", "id", "ig", "is", "it",
    "ja", "ka", "kk", "kl", "km", "kn", "ko", "kok", "ky", "lb", "lkt", "ln", "lo", "lt", "lv", "mk", "ml", "mn",
    "mr", "ms", "mt", "my", "nb", "ne", "nl", "nn", "om", "or", "pa", "pl", "ps", "pt", "ro", "ru", "se", "si",
    "sk", "sl", "smn", "sq", "sr", "sr_Latn", "sv", "sw", "ta", "te", "th", "to", "tr", "ug", "uk", "ur", "vi",
    "wae", "yi", "yo", "zh", "zh_Hant", "zu",
})

# variant -> the locales that take it ("de@collation=phonebook")
VARIANTS: dict[str, frozenset[str]] = {
    "big5han": frozenset({"zh", "zh_Hant"}),
    "compat": frozenset({"ar"}),
    "dictionary": frozenset({"si"}),
    "emoji": LOCALES,
    "eor": LOCALES,
    "gb2312han": frozenset({"zh", "zh_Hant"}),
    "phonebook": frozenset({"de", "de_AT"}),
    "phonetic": frozenset({"ln"}),
    "pinyin": frozenset({"zh_Hant"}),
    "search": LOCALES,
    "standard": frozenset({"sv", "zh", "zh_Hant"}),
    # taken or refused by the same 6.0.5 binary depending on the host's default locale (ICU's fallback): accepted here
    "stroke": frozenset({"zh", "zh_Hant"}),
    "traditional": frozenset({"bn", "es", "fi", "kn", "vi"}),
    "unihan": frozenset({"ja", "ko", "zh", "zh_Hant"}),
    "zhuyin": frozenset({"zh", "zh_Hant"}),
}

# What a locale's ICU tailoring turns on when the collation does not say (CollationSpec fills these in before it checks
# the combinations): found by sending every locale and variant at strength 1 to a real mongod 6.0.5.
LOCALE_DEFAULTS: dict[str, dict[str, object]] = {
    "fr_CA": {"backwards": True},  # "'backwards' is invalid with 'strength' of 1"
    "da": {"caseFirst": "upper"},  # "'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2"
    "mt": {"caseFirst": "upper"},
}
