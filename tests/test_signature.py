"""Error signatures group the same failure across releases."""

from __future__ import annotations

from harness import signature

TENSOR_DICT = (
    "Exception encountered when calling NotEqual.call().\n\n\x1b[1mFailed to convert elements of "
    "{'class_name': '__tensor__', 'config': {'dtype': 'float64', 'value': [0.0, 0.0, 0.0, 0.0]}} to Tensor."
)


def test_same_failure_same_signature() -> None:
    a = signature.signature("build", "TypeError", 'calling layer "masking_3" at 0x7f00aa: shape (8, 12, 4)')
    b = signature.signature("build", "TypeError", 'calling layer "masking_12" at 0x7f99bb: shape (16, 12, 4)')
    assert a == b


def test_keeps_the_tagged_dict_kind() -> None:
    sig = signature.signature("predict_after_load", "TypeError", TENSOR_DICT)
    assert sig is not None
    assert "'class_name': '__tensor__'" in sig and "\x1b" not in sig and "[1m" not in sig
    assert sig.startswith("predict_after_load: TypeError: ")


def test_paths_and_urls_vanish() -> None:
    sig = signature.normalise("cannot open /tmp/maskcompat-x/case-1/model.keras, see https://keras.io/a")
    assert sig == "cannot open <path>, see <url>"


def test_nothing_failed() -> None:
    assert signature.signature(None, None, None) is None


DESERIALIZING = (
    "<class 'keras.src.models.sequential.Sequential'> could not be deserialized properly. Please ensure that "
    "components that are Python object instances (layers, models, etc.) returned by `get_config()` are explicitly "
    "deserialized in the model's `from_config()` method.\n\nconfig={'module': 'keras', 'class_name': 'Sequential'}."
    "\n\nException encountered: Error when deserializing class 'InputLayer' using config={'batch_shape': [None, 4]}."
    "\n\nException encountered: Unrecognized keyword arguments: ['batch_shape', 'optional']"
)


def test_the_signature_is_the_innermost_exception_keras_quotes() -> None:
    assert signature.innermost("TypeError", DESERIALIZING) == (
        "TypeError",
        "Unrecognized keyword arguments: ['batch_shape', 'optional']",
    )
    assert (
        signature.signature("load", "TypeError", DESERIALIZING)
        == "load: TypeError: Unrecognized keyword arguments: […]"
    )


def test_a_quoted_exception_keeps_its_own_type() -> None:
    msg = "Exception encountered when calling Masking.call().\n\nValueError: bad value\n\nArguments received by it"
    assert signature.innermost("TypeError", msg) == ("ValueError", "bad value")


def test_the_chained_cause_the_child_recorded_comes_first() -> None:
    cut = DESERIALIZING[:300]  # an upgrade row keeps only the start of the outer message
    lstm = "Unrecognized keyword arguments passed to LSTM: {'time_major': False}"
    assert signature.innermost("TypeError", cut, "ValueError", lstm) == ("ValueError", lstm)
    assert signature.innermost("TypeError", cut)[1].startswith("<class 'keras.src.models.sequential.Sequential'>")


def test_nested_quotes_give_the_last_one() -> None:
    msg = (
        "<class 'Sequential'> could not be deserialized properly.\n\nconfig={'layers': []}.\n\nException encountered: "
        "<class 'StringLookup'> could not be deserialized properly.\n\nconfig={'vocabulary': []}.\n\n"
        "Exception encountered: unhashable type: 'dict'"
    )
    assert signature.innermost("TypeError", msg) == ("TypeError", "unhashable type: 'dict'")
