"""A collation document as the server parses it (``CollationSpec``/``collation.idl``): refused in one sentence where
the server would refuse it, so that no answer is given for a query MongoDB would not run."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from bson import Decimal128

from ..errors import MongoshardError
from .locales import LOCALE_DEFAULTS, LOCALES, VARIANTS

# The collator version the server reports (its vendored ICU); a collation naming another one is refused.
ICU_VERSION = "57.1"

__all__ = ["check_collation", "CollationError"]

_ENUMS = {"caseFirst": ("upper", "lower", "off"), "alternate": ("non-ignorable", "shifted"), "maxVariable": ("punct", "space")}
_BOOLEANS = ("caseLevel", "numericOrdering", "normalization", "backwards")


class CollationError(MongoshardError, ValueError):
    """A collation the server refuses."""


def check_collation(collation: Any) -> None:
    """Raise CollationError, naming the field, where a real mongod refuses ``collation``."""
    if not isinstance(collation, Mapping):
        raise CollationError(f"a collation is a document such as {{\"locale\": \"fr\"}}, not {type(collation).__name__}")
    if not collation:
        return  # an empty collation is none: the collection's default applies
    unknown = sorted(set(collation) - {"locale", "strength", "version", *_ENUMS, *_BOOLEANS})
    if unknown:
        raise CollationError(f"collation field '{unknown[0]}' is unknown to MongoDB; the fields are locale, strength, "
                             f"caseLevel, caseFirst, numericOrdering, alternate, maxVariable, normalization, backwards")
    locale = collation.get("locale")
    _check_locale(locale)
    # collation.idl: a null field is an absent one; strength is a number in [0, 5] (validators), truncated, and for a
    # locale other than "simple" one of the five ICU strengths (CollationSpec's enumeration: 0 is not one of them)
    strength = collation.get("strength")
    if isinstance(strength, Decimal128):
        strength = float(strength.to_decimal())
    if strength is not None:
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or strength != strength:
            raise CollationError(f"collation strength must be a number from 1 to 5, not {strength!r:.20}")
        if abs(strength) > 2**31 or not 0 <= int(strength) <= 5 or (locale != "simple" and int(strength) == 0):
            raise CollationError(f"collation strength must be from 1 to 5 (1: base letters only ... 5: identical), "
                                 f"not {strength}")
    # CollationSpec checks the combinations on the collator's values, the locale's own defaults filled in
    effective = {**LOCALE_DEFAULTS.get(str(locale), {}), **{k: v for k, v in collation.items() if v is not None}}
    level = int(strength if strength is not None else 3)
    # "'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2"
    if locale != "simple" and effective.get("caseFirst") in ("upper", "lower") and not collation.get("caseLevel") and level < 3:
        raise CollationError("collation caseFirst upper or lower (the default of da and mt) needs caseLevel: true or a "
                             "strength of 3 or more; or give caseFirst: \"off\"")
    # "'backwards' is invalid with 'strength' of 1"
    if locale != "simple" and effective.get("backwards") is True and level == 1:
        raise CollationError("collation backwards (the default of fr_CA) is invalid with strength 1; give a strength of "
                             "2 or more, or backwards: false")
    for name, allowed in _ENUMS.items():
        if collation.get(name) is not None and collation[name] not in allowed:
            raise CollationError(f"collation {name} must be one of {', '.join(allowed)}, not {collation[name]!r:.30}")
    for name in _BOOLEANS:
        # backwards is parsed apart (CollationSpec: "should be a boolean value"): null is not absent there
        if (collation.get(name) is not None or (name == "backwards" and name in collation)) and not isinstance(
                collation[name], bool):
            raise CollationError(f"collation {name} must be true or false, not {collation[name]!r:.30}")
    version = collation.get("version")
    if version is not None and not isinstance(version, str):
        raise CollationError(f"collation version must be a string, not {version!r:.20} (the server sets it; leave it out)")
    # the simple locale has no collator, so no collator version to disagree with (a real mongod 6.0.5 takes any string)
    if version is not None and locale != "simple" and version != ICU_VERSION:
        raise CollationError(f"collation version must be {ICU_VERSION!r}, the ICU version MongoDB ships (the server sets "
                             "it; leave it out)")


def _check_locale(locale: Any) -> None:
    if not isinstance(locale, str):
        raise CollationError('a collation needs a "locale" string, e.g. {"locale": "fr"} or {"locale": "simple"}')
    if not locale or "\x00" in locale:
        raise CollationError("the collation locale is empty or holds a NUL byte; give one such as \"fr\" or \"simple\"")
    if locale == "simple":
        return
    name, marker, variant = locale.partition("@collation=")
    if name in LOCALES and (not marker or name in VARIANTS.get(variant, ())):
        return
    hint = f"; did you mean '{name}'?" if variant and name in LOCALES else " (note: 'simple' is lower case)" \
        if locale.lower() == "simple" else ""
    raise CollationError(f"collation locale {locale!r:.40} is not one MongoDB supports (checked against the locales "
                         f"a real mongod takes){hint}; see 'Collation Locales' in MongoDB's manual")
