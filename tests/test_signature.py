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
