import sys, os
from pathlib import Path
import numpy as np
out = Path(sys.argv[1]); what = sys.argv[2:]
import tensorflow as tf
try:
    import keras
    K3 = keras.__version__.startswith("3")
except ImportError:
    keras = tf.keras; K3 = False
if not K3:
    keras = tf.keras
L = keras.layers
keras.utils.set_random_seed(0)
def seq_mask(mask):
    if K3:
        return keras.Sequential([keras.Input((None, 4)), L.Masking(mask_value=mask), L.LSTM(8), L.Dense(1)])
    return keras.Sequential([L.Masking(mask_value=mask, input_shape=(None, 4)), L.LSTM(8), L.Dense(1)])
def multi(mask):
    a = keras.Input((None, 4), name="steps"); b = keras.Input((3,), name="static")
    x = L.GRU(6)(L.Masking(mask_value=mask)(a)) if mask is not None else L.GRU(6)(a)
    y = L.Dense(4, activation="relu")(b)
    return keras.Model([a, b], L.Dense(2)(L.Concatenate()([x, y])))
for w in what:
    name, ext = w.rsplit(".", 1)
    keras.backend.clear_session(); keras.utils.set_random_seed(0)
    if name == "seq-list": m = seq_mask(0.0)
    elif name == "seq-tensor": m = seq_mask(tf.constant(0.0, dtype="float64") if not K3 else keras.ops.convert_to_tensor(0.0, dtype="float64"))
    elif name == "multi-mask": m = multi(0.0)
    elif name == "multi-plain": m = multi(None)
    m.save(out / w)
    print("saved", w)
