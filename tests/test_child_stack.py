"""The child records the exception that started a chain, the cause a wrapper's first line hides."""

from __future__ import annotations

from harness.child.stack import error_fields, first_cause


def _raise_wrapped() -> None:
    try:
        try:
            raise ValueError("Unrecognized keyword arguments passed to LSTM: {'time_major': False}")
        except ValueError as exc:
            raise TypeError(f"Error when deserializing class 'LSTM'.\n\nException encountered: {exc}") from exc
    except TypeError as exc:
        raise TypeError("<class 'Sequential'> could not be deserialized properly.") from exc


def test_the_first_exception_of_a_chain_is_recorded_beside_the_outer_one() -> None:
    try:
        _raise_wrapped()
    except TypeError as exc:
        fields = error_fields(exc)
    assert fields["error_type"] == "TypeError"
    assert fields["error_message"].startswith("<class 'Sequential'>")
    assert fields["error_cause_type"] == "ValueError"
    assert fields["error_cause_message"].startswith("Unrecognized keyword arguments passed to LSTM")


def test_an_exception_raised_while_handling_another_is_chained_too_unless_suppressed() -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise RuntimeError("outer")  # noqa: B904 - the implicit context is what is tested
    except RuntimeError as exc:
        assert isinstance(first_cause(exc), KeyError)
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise RuntimeError("outer") from None
    except RuntimeError as exc:
        assert first_cause(exc) is None
        assert error_fields(exc)["error_cause_type"] is None
