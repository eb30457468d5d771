#!/usr/bin/env python3
"""Writes mobilenet-fuzz/corpus/tflite/tiny_int8.tflite (and tiny_f32.tflite, the same model in
float): a tiny MobileNet-shaped Keras model
(16x16x3 input, a 3x3 stride-2 conv, a depthwise + pointwise pair, an inverted residual block
with its add, a global average pool, a dense layer, softmax; random weights) converted by
TensorFlow to a fully int8 TFLite model with u8 input and output. It seeds the `tflite` fuzz
target and is the repo-only import test's model (mobilenet-fuzz/tests/import_errors.rs).

Needs tensorflow-cpu (bench/requirements.txt). Run from the repository root."""
import numpy as np
import tensorflow as tf

tf.random.set_seed(1)
L = tf.keras.layers
x = inp = L.Input((16, 16, 3))
x = L.ReLU(6.0)(L.Conv2D(8, 3, strides=2, padding="same")(x))
x = L.ReLU(6.0)(L.DepthwiseConv2D(3, padding="same")(x))
x = L.ReLU(6.0)(L.Conv2D(16, 1)(x))
y = L.ReLU(6.0)(L.Conv2D(48, 1)(x))
y = L.ReLU(6.0)(L.DepthwiseConv2D(3, padding="same")(y))
y = L.Conv2D(16, 1)(y)
x = L.Add()([x, y])
x = L.GlobalAveragePooling2D()(x)
x = L.Softmax()(L.Dense(10)(x))
model = tf.keras.Model(inp, x)


def data():
    rng = np.random.default_rng(0)
    for _ in range(32):
        yield [rng.uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)]


out = "mobilenet-fuzz/corpus/tflite/tiny_f32.tflite"
with open(out, "wb") as f:
    f.write(tf.lite.TFLiteConverter.from_keras_model(model).convert())
print("wrote", out)

conv = tf.lite.TFLiteConverter.from_keras_model(model)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = data
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = tf.uint8
conv.inference_output_type = tf.uint8
out = "mobilenet-fuzz/corpus/tflite/tiny_int8.tflite"
with open(out, "wb") as f:
    f.write(conv.convert())
print("wrote", out)
