"""Keras generator files and Keras's own outputs for webgen's tests (test/fixtures/keras/).

Keras itself writes every file: three generators, each saved as `.keras` (Keras 3: a zip of
config.json + model.weights.h5) and `.h5` (the legacy HDF5 format with `model_config`):
  seed      the project's founding document's generator, verbatim (Dense 128 relu, 256 relu, 256 sigmoid)
  dcgan     TensorFlow's DCGAN tutorial generator at reduced widths (7x7x32 -> 28x28x1)
  upconv    upsample-and-convolve: UpSampling2D + Conv2D (stride 1 and 2, same and valid), activation layers
Weights are random, rounded to multiples of 1/64 (so the files deflate well and stay small);
batch norms get random moving means and variances. For each: `<name>.z.f32` (latents [4, nz]) and
`<name>.out.f32` (model.predict(z), channels-last), raw little-endian float32; `index.json` lists
shapes. Files over 300 kB (the seed's, whose .keras zip is stored, not deflated) are kept gzipped
(`.keras.gz`, `.h5.gz`) so the fixtures stay under 1 MB; tests unzip them in memory.

  python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install keras jax jaxlib h5py numpy
  KERAS_BACKEND=jax /tmp/kerasenv/bin/python tools/make_keras_fixtures.py
"""

import gzip
import json
import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from keras.layers import Dense, Input  # noqa: E402
from keras.models import Model  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "keras")


def seed_generator():
    # verbatim from the seed
    input_layer = Input(shape=(256,))
    dense1 = Dense(128, activation='relu')(input_layer)
    dense2 = Dense(256, activation='relu')(dense1)
    output_layer = Dense(256, activation='sigmoid')(dense2)
    generator = Model(input_layer, output_layer)
    return generator


def dcgan_generator(nz=16):
    # tensorflow.org/tutorials/generative/dcgan make_generator_model, widths 256/128/64 -> 32/16/8
    model = keras.Sequential(name="dcgan")
    model.add(Input(shape=(nz,)))
    model.add(layers.Dense(7 * 7 * 32, use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Reshape((7, 7, 32)))
    model.add(layers.Conv2DTranspose(16, (5, 5), strides=(1, 1), padding="same", use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(8, (5, 5), strides=(2, 2), padding="same", use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"))
    return model


def upconv_generator(nz=16):
    z = Input(shape=(nz,))
    x = layers.Dense(4 * 4 * 16, activation="relu")(z)
    x = layers.Reshape((4, 4, 16))(x)
    x = layers.UpSampling2D()(x)  # 8x8
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.BatchNormalization(epsilon=1e-5)(x)
    x = layers.ReLU()(x)
    x = layers.UpSampling2D(size=(2, 2))(x)  # 16x16
    x = layers.Conv2D(8, 3, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.1)(x)
    x = layers.Conv2D(8, 4, strides=2, padding="same", use_bias=False)(x)  # 8x8
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu")(x)  # 3x3
    x = layers.UpSampling2D(size=3)(x)  # 9x9
    x = layers.Conv2D(3, 3, padding="valid")(x)  # 7x7
    out = layers.Activation("tanh")(x)
    return Model(z, out, name="upconv")


def randomize(model, rng):
    for layer in model.layers:
        new = []
        for w in layer.weights:
            name = w.path.split("/")[-1]
            shape = tuple(w.shape)
            if name == "moving_variance":
                v = rng.uniform(0.25, 2.0, shape)
            elif name == "gamma":
                v = rng.uniform(0.5, 1.5, shape)
            elif name in ("moving_mean", "beta", "bias"):
                v = rng.normal(0.0, 0.3, shape)
            else:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
                if "transpose" in layer.__class__.__name__.lower():
                    fan_in = int(np.prod(shape[:2])) * shape[3]
                v = rng.normal(0.0, 1.5 / np.sqrt(fan_in), shape)
            new.append((np.round(v * 64) / 64).astype(np.float32))
        if new:
            layer.set_weights(new)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(16)
    index = {}
    for name, make in [("seed", seed_generator), ("dcgan", dcgan_generator), ("upconv", upconv_generator)]:
        model = make()
        randomize(model, rng)
        nz = model.input_shape[-1]
        z = rng.standard_normal((4, nz)).astype(np.float32)
        out = np.asarray(model.predict(z, verbose=0), dtype=np.float32)
        for ext in ("keras", "h5"):
            path = os.path.join(OUT, f"{name}.{ext}")
            model.save(path)
            if ext == "h5" or os.path.getsize(path) > 300_000:
                with open(path, "rb") as f, gzip.GzipFile(path + ".gz", "wb", compresslevel=9, mtime=0) as g:
                    shutil.copyfileobj(f, g)
                os.remove(path)
        z.tofile(os.path.join(OUT, f"{name}.z.f32"))
        out.tofile(os.path.join(OUT, f"{name}.out.f32"))
        index[name] = {"nz": int(nz), "z": list(z.shape), "out": list(out.shape), "keras": keras.__version__}
        print(name, "z", z.shape, "->", out.shape, "range", float(out.min()), float(out.max()))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
