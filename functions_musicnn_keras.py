"""MSD_musicnn as a Keras model (export, and the check of the NumPy forward pass of functions_musicnn).

Imports TensorFlow/Keras inside the function only; the layers and weights are those of the original graph.
"""

from __future__ import annotations

import numpy as np

from functions_audio import MUSICNN_MODEL
from functions_musicnn import _MIDEND, _TEMPORAL, _TIMBRAL, BN_EPSILON, MIDEND_PAD, N_MELS, PATCH_FRAMES, TIMBRAL_PAD
from functions_musicnn_weights import _BN_PARTS, N_TAGS, PENULTIMATE_UNITS, ensure_weights, read_weights


def build_keras_model(arrays: dict[str, np.ndarray] | None = None):  # -> keras.Model
    """MSD_musicnn as a Keras model: a (187, 96) log-mel patch in, [tags (50), penultimate (200)] out.

    The layers are those of the original graph (batch normalisations unfolded, epsilon 1e-3), with its weights.
    """
    from functions_nn import quiet_tensorflow

    quiet_tensorflow()
    import keras
    from keras import layers

    arrays = arrays if arrays is not None else read_weights(ensure_weights())

    def bn(name: str):
        layer = layers.BatchNormalization(epsilon=BN_EPSILON, name=name)
        return layer, [arrays[f"{name}/{p}"] for p in _BN_PARTS]

    assigned = []

    def use(layer_and_weights):
        layer, weights = layer_and_weights
        assigned.append((layer, weights))
        return layer

    def conv(name: str, padding: str):
        kernel = arrays[f"{name}/kernel"]
        layer = layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding=padding, activation="relu", name=name)
        return use((layer, [kernel, arrays[f"{name}/bias"]]))

    inputs = keras.Input(shape=(PATCH_FRAMES, N_MELS), name="log_mel")
    x = use(bn("input_bn"))(layers.Reshape((PATCH_FRAMES, N_MELS, 1))(inputs))
    fronts = []
    padded = layers.ZeroPadding2D(((TIMBRAL_PAD, TIMBRAL_PAD), (0, 0)))(x)
    for name in _TIMBRAL:
        h = use(bn(f"{name}_bn"))(conv(name, "valid")(padded))
        h = layers.MaxPooling2D((1, h.shape[2]))(h)
        fronts.append(layers.Reshape((PATCH_FRAMES, h.shape[-1]))(h))
    for name in _TEMPORAL:
        h = use(bn(f"{name}_bn"))(conv(name, "same")(x))
        h = layers.MaxPooling2D((1, h.shape[2]))(h)
        fronts.append(layers.Reshape((PATCH_FRAMES, h.shape[-1]))(h))
    front = layers.Concatenate(axis=2)(fronts)  # (187, 561)
    maps = [front]
    h = front
    for number, name in enumerate(_MIDEND):
        channels = h.shape[-1]
        grid = layers.ZeroPadding2D(((MIDEND_PAD, MIDEND_PAD), (0, 0)))(layers.Reshape((PATCH_FRAMES, channels, 1))(h))
        out = use(bn(f"{name}_bn"))(conv(name, "valid")(grid))  # (187, 1, 64)
        out = layers.Reshape((PATCH_FRAMES, out.shape[-1]))(out)
        h = out if number == 0 else layers.Add()([out, h])
        maps.append(h)
    features = layers.Concatenate(axis=2)(maps)  # (187, 753)
    width = features.shape[-1]
    pooled_max = layers.Reshape((width, 1))(layers.GlobalMaxPooling1D()(features))
    pooled_mean = layers.Reshape((width, 1))(layers.GlobalAveragePooling1D()(features))
    pooled = layers.Flatten()(layers.Concatenate(axis=2)([pooled_max, pooled_mean]))  # max/mean interleaved
    pooled = use(bn("pool_bn"))(pooled)
    dense = layers.Dense(PENULTIMATE_UNITS, activation="relu", name="dense")
    assigned.append((dense, [arrays["dense/kernel"], arrays["dense/bias"]]))
    penultimate = use(bn("dense_bn"))(dense(pooled))
    output = layers.Dense(N_TAGS, activation="sigmoid", name="output")
    assigned.append((output, [arrays["output/kernel"], arrays["output/bias"]]))
    model = keras.Model(inputs, [output(penultimate), penultimate], name=MUSICNN_MODEL)
    for layer, weights in assigned:
        layer.set_weights(weights)
    return model
