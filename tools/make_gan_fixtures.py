"""Writes the GAN generator fixtures of test/fixtures/gan: small generators with random weights in
the layouts real checkpoints use, and their outputs computed by PyTorch in float64.

Run with the PyTorch 1.13 interpreter:  /usr/bin/python3 tools/make_gan_fixtures.py

Each folder holds model.safetensors (F32 weights), generator.json (the layer list webgen reads;
none for the canonical DCGAN, which webgen recognises from its tensor names) and reference.safetensors:
`z` [count, nz] (F32) and `images` (F32, in the model's output layout, computed in float64 from the
F32 weights exactly as stored).

  pt-mixed  PyTorch layouts, NCHW: Linear [out, in] -> view(6, 2, 2) -> BatchNorm2d -> ReLU ->
            ConvT k3 s1 p0 (bias) -> LeakyReLU -> BatchNorm2d -> ConvT k3 s2 p1 output_padding 1 ->
            BN -> ReLU -> ConvT k4 s2 p1 -> BN -> ReLU -> ConvT k3 s1 p0 (bias) -> Tanh  (3x18x18)
  keras     Keras layouts, NHWC: Dense [in, out] -> BatchNormalization -> LeakyReLU(0.3) ->
            Reshape(3, 3, 8) -> Conv2DTranspose k4 s2 'same' -> ReLU -> BN -> LeakyReLU(0.2) -> BN ->
            Conv2DTranspose k3 s1 'same' -> ReLU -> Conv2DTranspose k3 s2 'same' (no bias) -> BN ->
            ReLU -> Conv2DTranspose k4 s1 'same' -> sigmoid  (12x12x3)
  dense     the classic Keras dense generator: z 256 -> Dense 128 ReLU -> Dense 256 ReLU ->
            Dense 256 sigmoid, reshaped to a 16x16x1 image
  dcgan     the canonical PyTorch DCGAN Generator (nz 16, ngf 8, nc 3, 32x32), main.{i}.* names
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save  # noqa: E402

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "gan")
COUNT = 3


class Weights:
    """Random F32 weights; the float64 forward pass uses exactly these values."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)
        self.tensors = {}

    def uniform(self, name, shape, bound):
        t = ((torch.rand(shape, generator=self.g, dtype=torch.float64) * 2 - 1) * bound).float()
        self.tensors[name] = t
        return t.double()

    def normal(self, name, shape, std, mean=0.0):
        t = (torch.randn(shape, generator=self.g, dtype=torch.float64) * std + mean).float()
        self.tensors[name] = t
        return t.double()

    def conv(self, name, shape, fan_in, bias_shape=None, bias_name=None):
        w = self.uniform(name, shape, math.sqrt(6.0 / fan_in))
        b = self.uniform(bias_name, bias_shape, 0.1) if bias_name else None
        return w, b

    def batch_norm(self, names, c, eps):
        """names: (gamma, beta, mean, var) -> a function applying eval-mode BN over dim 1."""
        gamma = self.uniform(names[0], [c], 0.5) + 1.0
        self.tensors[names[0]] = gamma.float()
        beta = self.normal(names[1], [c], 0.2)
        mean = self.normal(names[2], [c], 0.2)
        var = (torch.rand([c], generator=self.g, dtype=torch.float64) * 1.5 + 0.5).float()
        self.tensors[names[3]] = var
        var = var.double()

        def bn(x):
            shape = [1, c] + [1] * (x.dim() - 2)
            return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps) * gamma.view(shape) + beta.view(shape)

        return bn


def keras_same(x, w_keras, b, stride):
    """Keras Conv2DTranspose padding='same': the full transposed convolution, cropped by
    floor(max(k - s, 0) / 2) at the start to n * s. w_keras is [kH, kW, out, in]."""
    w = w_keras.permute(3, 2, 0, 1)  # [in, out, kH, kW]
    k = w.shape[2]
    full = F.conv_transpose2d(x, w, b, stride=stride)
    p = max(k - stride, 0) // 2
    n = x.shape[2] * stride
    return full[:, :, p:p + n, p:p + n]


def latents(seed, count, nz):
    g = torch.Generator().manual_seed(seed)
    return torch.randn([count, nz], generator=g, dtype=torch.float64).float()


def write(name, weights, graph, z, images, meta):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    save(weights.tensors, os.path.join(d, "model.safetensors"))
    if graph is not None:
        with open(os.path.join(d, "generator.json"), "w") as f:
            json.dump(graph, f, indent=1)
            f.write("\n")
    save({"z": z, "images": images.float()}, os.path.join(d, "reference.safetensors"), metadata=meta)
    print(f"{name}: images {list(images.shape)} range [{images.min():.3f}, {images.max():.3f}]")


def pt_mixed():
    W = Weights(1)
    nz = 10
    fc_w = W.uniform("fc.weight", [24, nz], math.sqrt(6 / nz))
    fc_b = W.uniform("fc.bias", [24], 0.1)
    bn0 = W.batch_norm(["bn0.weight", "bn0.bias", "bn0.running_mean", "bn0.running_var"], 6, 1e-5)
    W.tensors["bn0.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    up1_w, up1_b = W.conv("up1.weight", [6, 13, 3, 3], 6 * 9 / 1, [13], "up1.bias")
    bn1 = W.batch_norm(["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"], 13, 1e-5)
    up2_w, _ = W.conv("up2.weight", [13, 9, 3, 3], 13 * 9 / 4)
    bn2 = W.batch_norm(["bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var"], 9, 1e-5)
    up3_w, _ = W.conv("up3.weight", [9, 7, 4, 4], 9 * 16 / 4)
    bn3 = W.batch_norm(["bn3.weight", "bn3.bias", "bn3.running_mean", "bn3.running_var"], 7, 1e-5)
    out_w, out_b = W.conv("out.weight", [7, 3, 3, 3], 7 * 9, [3], "out.bias")
    z = latents(11, COUNT, nz)

    x = z.double() @ fc_w.T + fc_b                          # [N, 24]
    x = x.view(-1, 6, 2, 2)                                   # [N, 6, 2, 2]
    x = F.relu(bn0(x))
    x = F.conv_transpose2d(x, up1_w, up1_b, stride=1, padding=0)  # [N, 13, 4, 4]
    x = bn1(F.leaky_relu(x, 0.2))
    x = F.relu(bn2(F.conv_transpose2d(x, up2_w, None, stride=2, padding=1, output_padding=1)))  # [N, 9, 8, 8]
    x = F.relu(bn3(F.conv_transpose2d(x, up3_w, None, stride=2, padding=1)))  # [N, 7, 16, 16]
    x = torch.tanh(F.conv_transpose2d(x, out_w, out_b, stride=1, padding=0))  # [N, 3, 18, 18]
    graph = {
        "nz": nz,
        "output": "NCHW",
        "layers": [
            {"type": "dense", "name": "fc", "layout": "out_in"},
            {"type": "reshape", "shape": [6, 2, 2], "layout": "NCHW"},
            {"type": "batch_norm", "name": "bn0", "eps": 1e-5},
            {"type": "relu"},
            {"type": "conv_transpose2d", "name": "up1", "layout": "pytorch", "kernel_size": 3, "stride": 1, "padding": 0},
            {"type": "leaky_relu", "negative_slope": 0.2},
            {"type": "batch_norm", "name": "bn1"},
            {"type": "conv_transpose2d", "name": "up2", "stride": 2, "padding": 1, "output_padding": 1},
            {"type": "batch_norm", "name": "bn2"},
            {"type": "relu"},
            {"type": "conv_transpose2d", "name": "up3", "stride": 2, "padding": 1},
            {"type": "batch_norm", "name": "bn3"},
            {"type": "relu"},
            {"type": "conv_transpose2d", "name": "out", "kernel_size": [3, 3], "stride": 1, "padding": 0},
            {"type": "tanh"},
        ],
    }
    write("pt-mixed", W, graph, z, x, {"layout": "NCHW"})


def keras():
    W = Weights(2)
    nz = 12
    d_w = W.uniform("dense_1/kernel", [nz, 72], math.sqrt(6 / (nz + 72)))
    d_b = W.uniform("dense_1/bias", [72], 0.1)
    bnk = lambda i, c: W.batch_norm([f"batch_normalization_{i}/{s}" for s in ("gamma", "beta", "moving_mean", "moving_variance")], c, 1e-3)  # noqa: E731
    bn1 = bnk(1, 72)
    c1_w, c1_b = W.conv("conv2d_transpose_1/kernel", [4, 4, 16, 8], 8 * 16 / 4, [16], "conv2d_transpose_1/bias")
    bn2 = bnk(2, 16)
    bn3 = bnk(3, 16)
    c2_w, c2_b = W.conv("conv2d_transpose_2/kernel", [3, 3, 5, 16], 16 * 9, [5], "conv2d_transpose_2/bias")
    c3_w, _ = W.conv("conv2d_transpose_3/kernel", [3, 3, 11, 5], 5 * 9 / 4)
    bn4 = bnk(4, 11)
    c4_w, c4_b = W.conv("conv2d_transpose_4/kernel", [4, 4, 3, 11], 11 * 16, [3], "conv2d_transpose_4/bias")
    z = latents(12, COUNT, nz)

    x = z.double() @ d_w + d_b                                # [N, 72]
    x = F.leaky_relu(bn1(x), 0.3)
    x = x.view(-1, 3, 3, 8).permute(0, 3, 1, 2)               # NHWC reshape -> [N, 8, 3, 3]
    x = bn2(F.relu(keras_same(x, c1_w, c1_b, 2)))             # [N, 16, 6, 6]
    x = bn3(F.leaky_relu(x, 0.2))
    x = F.relu(keras_same(x, c2_w, c2_b, 1))                  # [N, 5, 6, 6]
    x = F.relu(bn4(keras_same(x, c3_w, None, 2)))             # [N, 11, 12, 12]
    x = torch.sigmoid(keras_same(x, c4_w, c4_b, 1))           # [N, 3, 12, 12]
    x = x.permute(0, 2, 3, 1)                                 # NHWC
    graph = {
        "nz": nz,
        "output": "NHWC",
        "layers": [
            {"type": "dense", "name": "dense_1"},
            {"type": "batch_norm", "name": "batch_normalization_1"},
            {"type": "leaky_relu", "negative_slope": 0.3},
            {"type": "reshape", "shape": [3, 3, 8], "layout": "NHWC"},
            {"type": "conv_transpose2d", "name": "conv2d_transpose_1", "layout": "keras", "stride": 2, "padding": "same"},
            {"type": "relu"},
            {"type": "batch_norm", "name": "batch_normalization_2"},
            {"type": "leaky_relu", "negative_slope": 0.2},
            {"type": "batch_norm", "name": "batch_normalization_3", "eps": 1e-3},
            {"type": "conv_transpose2d", "name": "conv2d_transpose_2", "stride": 1, "padding": "same"},
            {"type": "relu"},
            {"type": "conv_transpose2d", "weight": "conv2d_transpose_3/kernel", "layout": "keras", "stride": 2, "padding": "same"},
            {"type": "batch_norm", "name": "batch_normalization_4"},
            {"type": "relu"},
            {"type": "conv_transpose2d", "name": "conv2d_transpose_4", "stride": 1, "padding": "same"},
            {"type": "sigmoid"},
        ],
    }
    write("keras", W, graph, z, x, {"layout": "NHWC"})


def dense():
    W = Weights(3)
    nz = 256
    layers, x = [], None
    z = latents(13, COUNT, nz)
    x = z.double()
    for i, (name, n_in, n_out, act) in enumerate([("dense", 256, 128, "relu"), ("dense_1", 128, 256, "relu"), ("dense_2", 256, 256, "sigmoid")]):
        w = W.uniform(f"{name}/kernel", [n_in, n_out], math.sqrt(6 / (n_in + n_out)))
        b = W.uniform(f"{name}/bias", [n_out], 0.1)
        x = x @ w + b
        x = F.relu(x) if act == "relu" else torch.sigmoid(x)
        layers += [{"type": "dense", "name": name, "layout": "in_out"}, {"type": act}]
    layers.append({"type": "reshape", "shape": [16, 16, 1], "layout": "NHWC"})
    graph = {"nz": nz, "output": "NHWC", "layers": layers}
    write("dense", W, graph, z, x.view(-1, 16, 16, 1), {"layout": "NHWC"})


def dcgan():
    W = Weights(4)
    nz, ngf, nc = 16, 8, 3
    chans = [nz, ngf * 4, ngf * 2, ngf, nc]
    z = latents(14, 4, nz)
    x = z.double().view(-1, nz, 1, 1)
    idx = 0
    for j in range(4):
        w = W.uniform(f"main.{idx}.weight", [chans[j], chans[j + 1], 4, 4], math.sqrt(6 / (chans[j] * 16 / (1 if j == 0 else 4))))
        x = F.conv_transpose2d(x, w, None, stride=1 if j == 0 else 2, padding=0 if j == 0 else 1)
        if j < 3:
            bn = W.batch_norm([f"main.{idx + 1}.{s}" for s in ("weight", "bias", "running_mean", "running_var")], chans[j + 1], 1e-5)
            W.tensors[f"main.{idx + 1}.num_batches_tracked"] = torch.tensor(100, dtype=torch.int64)
            x = F.relu(bn(x))
            idx += 3
        else:
            x = torch.tanh(x)
    cfg = {"model_type": "dcgan", "nz": nz, "ngf": ngf, "nc": nc, "image_size": 32}
    write("dcgan", W, None, z.view(-1, nz, 1, 1), x, {"layout": "NCHW"})
    with open(os.path.join(OUT, "dcgan", "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    pt_mixed()
    keras()
    dense()
    dcgan()
