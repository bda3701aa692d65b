"""Hypothesis strategies shared by the spec tests."""

from __future__ import annotations

from hypothesis import strategies as st

# Text a spec may hold: no NUL (and, as hypothesis's default, no surrogates).
SPEC_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def spec_text(max_size: int) -> st.SearchStrategy:
    """Strings that spec validation accepts."""
    return st.text(SPEC_CHARACTERS, max_size=max_size)


def json_scalars(text_size: int = 5) -> st.SearchStrategy:
    """JSON scalars: null, booleans, integers, finite floats, short strings."""
    return (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | spec_text(text_size)
    )


def json_values(text_size: int = 5) -> st.SearchStrategy:
    """Small JSON values: scalars, and lists and dicts of them."""
    return st.recursive(
        json_scalars(text_size),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(spec_text(text_size), inner, max_size=3)
        ),
        max_leaves=8,
    )
