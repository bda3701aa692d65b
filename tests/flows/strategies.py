"""Hypothesis strategies shared by the spec tests."""

from __future__ import annotations

from hypothesis import strategies as st


def json_scalars(text_size: int = 5) -> st.SearchStrategy:
    """JSON scalars: null, booleans, integers, finite floats, short strings."""
    return (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=text_size)
    )


def json_values(text_size: int = 5) -> st.SearchStrategy:
    """Small JSON values: scalars, and lists and dicts of them."""
    return st.recursive(
        json_scalars(text_size),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=text_size), inner, max_size=3)
        ),
        max_leaves=8,
    )
