"""Trains the default DCGAN generator (pretrained/dcgan-emoji) on Noto Color Emoji glyphs (Debian fonts-noto-color-emoji).

Data: every glyph the font maps, one string per glyph id: the cmap code points plus every GSUB ligature
(ZWJ sequences, flags, skin tones, keycaps), read from the font's own tables. Each string is drawn with PIL
(raqm layout, embedded colour bitmaps at 109 px), composited on white, cropped to its ink, centred on a
white square and resized to 32x32 with LANCZOS. Horizontal flips augment the training batches.
Model: the PyTorch-examples DCGAN (generator `main` = nn.Sequential), nz 64, ngf 64, ndf 64.

  nice -n 15 /usr/bin/python3 tools/train_dcgan.py --epochs 60 --out pretrained/dcgan-emoji
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

# Idle OpenMP threads sleep instead of spinning: on a shared, oversubscribed machine spinning made steps
# 5-10x slower. This changes only scheduling, not results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


# ---------------------------------------------------------------- glyph enumeration from the font's tables
def _tables(data):
    n = struct.unpack_from(">H", data, 4)[0]
    return {data[12 + 16 * i:16 + 16 * i].decode(): struct.unpack_from(">I", data, 20 + 16 * i)[0] for i in range(n)}


def cmap(data, off):
    """code point -> glyph id from the format 12 (full Unicode) subtable."""
    n = struct.unpack_from(">H", data, off + 2)[0]
    for i in range(n):
        sub = off + struct.unpack_from(">I", data, off + 4 + 8 * i + 4)[0]
        if struct.unpack_from(">H", data, sub)[0] == 12:
            groups = struct.unpack_from(">I", data, sub + 12)[0]
            out = {}
            for g in range(groups):
                start, end, gid = struct.unpack_from(">III", data, sub + 16 + 12 * g)
                out.update({cp: gid + cp - start for cp in range(start, end + 1)})
            return out
    raise ValueError("no format 12 cmap")


def _coverage(data, off):
    fmt, n = struct.unpack_from(">HH", data, off)
    if fmt == 1:
        return list(struct.unpack_from(f">{n}H", data, off + 4))
    out = []
    for i in range(n):
        start, end, _ = struct.unpack_from(">HHH", data, off + 4 + 6 * i)
        out += range(start, end + 1)
    return out


def ligatures(data, off):
    """[(component glyph ids, ligature glyph id)] from every GSUB ligature substitution (type 4, or 7 -> 4)."""
    lookups = off + struct.unpack_from(">H", data, off + 8)[0]
    out = []
    for i in range(struct.unpack_from(">H", data, lookups)[0]):
        lk = lookups + struct.unpack_from(">H", data, lookups + 2 + 2 * i)[0]
        ltype, _, nsub = struct.unpack_from(">HHH", data, lk)
        for j in range(nsub):
            st = lk + struct.unpack_from(">H", data, lk + 6 + 2 * j)[0]
            t = ltype
            if t == 7:
                t = struct.unpack_from(">H", data, st + 2)[0]
                st += struct.unpack_from(">I", data, st + 4)[0]
            if t != 4:
                continue
            cov = _coverage(data, st + struct.unpack_from(">H", data, st + 2)[0])
            for k, first in enumerate(cov):
                ls = st + struct.unpack_from(">H", data, st + 6 + 2 * k)[0]
                for m in range(struct.unpack_from(">H", data, ls)[0]):
                    lig = ls + struct.unpack_from(">H", data, ls + 2 + 2 * m)[0]
                    gid, nc = struct.unpack_from(">HH", data, lig)
                    out.append(([first] + list(struct.unpack_from(f">{nc - 1}H", data, lig + 4)), gid))
    return out


def emoji_strings():
    """One string per distinct glyph: plain code points first, then ligature sequences."""
    data = open(FONT, "rb").read()
    tabs = _tables(data)
    cp2g = cmap(data, tabs["cmap"])
    g2cp = {}
    for cp, g in sorted(cp2g.items()):
        g2cp.setdefault(g, cp)
    skip = lambda cp: cp < 0xA9 or 0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp or cp in (0x200D, 0x20E3) or 0x1F1E6 <= cp <= 0x1F1FF
    seen, out = set(), []
    for cp, g in sorted(cp2g.items()):
        if not skip(cp) and g not in seen:
            seen.add(g)
            out.append(chr(cp))
    for comps, g in ligatures(data, tabs["GSUB"]):
        if g not in seen and all(c in g2cp for c in comps):
            seen.add(g)
            out.append("".join(chr(g2cp[c]) for c in comps))
    return out


def render(s, font, size=32):
    """RGB uint8 [size, size, 3] of one emoji string, or None when it is not drawn as a single glyph."""
    l, t, r, b = font.getbbox(s)
    if r - l <= 0 or b - t <= 0 or r - l > 1.5 * (b - t):
        return None  # empty, or laid out as several glyphs
    img = Image.new("RGBA", (r - l + 8, b - t + 8), (255, 255, 255, 0))
    ImageDraw.Draw(img).text((4 - l, 4 - t), s, font=font, embedded_color=True)
    box = img.getchannel("A").getbbox()
    if box is None:
        return None
    img = img.crop(box)
    side = max(img.size)
    sq = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    sq.alpha_composite(img, ((side - img.size[0]) // 2, (side - img.size[1]) // 2))
    return np.asarray(sq.convert("RGB").resize((size, size), Image.LANCZOS))


def dataset(cache):
    if os.path.exists(cache):
        return np.load(cache)
    font = ImageFont.truetype(FONT, 109)
    imgs = [im for im in (render(s, font) for s in emoji_strings()) if im is not None]
    arr = np.stack(imgs)
    np.save(cache, arr)
    return arr


# ---------------------------------------------------------------- models (PyTorch examples' DCGAN, 32x32)
class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d (same parameters, same result) computed as a stride-1 convolution of the
    zero-upsampled input with the flipped kernel: Debian's torch runs transposed convolutions through
    its slow reference BLAS but plain convolutions through oneDNN."""

    def forward(self, x):
        s, p, k = self.stride[0], self.padding[0], self.kernel_size[0]
        if s > 1:
            up = x.new_zeros(x.shape[0], x.shape[1], (x.shape[2] - 1) * s + 1, (x.shape[3] - 1) * s + 1)
            up[:, :, ::s, ::s] = x
            x = up
        return F.conv2d(x, self.weight.transpose(0, 1).flip(2, 3), self.bias, padding=k - 1 - p)


class Generator(nn.Module):
    def __init__(self, nz=64, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 4x4
            ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 8x8
            ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 16x16
            ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())  # 32x32

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 16x16
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 8x8
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 4x4
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))  # logit

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def grid(x, n=8):
    """[n*n, 3, H, W] in [-1, 1] -> PIL image with 2 px white gaps."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    h, w = x.shape[1:3]
    out = np.full((n * (h + 2) + 2, n * (w + 2) + 2, 3), 255, np.uint8)
    for i in range(n * n):
        r, c = divmod(i, n)
        out[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = x[i]
    return Image.fromarray(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="pretrained/dcgan-emoji")
    ap.add_argument("--tmp", default="/tmp/dcgan-emoji")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--nz", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.tmp, exist_ok=True)
    t0 = time.time()
    data = torch.from_numpy(dataset(os.path.join(args.tmp, "emoji32.npy"))).permute(0, 3, 1, 2).float() / 127.5 - 1
    print(f"images {len(data)} ({time.time() - t0:.0f}s)", flush=True)
    grid(data[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:64]]).save(os.path.join(args.tmp, "data.png"))

    torch.manual_seed(1)
    G, D = Generator(args.nz, args.ngf), Discriminator(args.ndf)
    G.apply(weights_init)
    D.apply(weights_init)
    print(f"params G {sum(p.numel() for p in G.parameters())} D {sum(p.numel() for p in D.parameters())}", flush=True)
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    fixed = torch.randn(64, args.nz, 1, 1, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(2)
    nb = len(data) // args.batch
    t_train, history = time.time(), []
    for ep in range(1 if args.bench else args.epochs):
        perm = torch.randperm(len(data), generator=g)
        sd = sg = 0.0
        for i in range(nb):
            real = data[perm[i * args.batch:(i + 1) * args.batch]]
            flip = torch.rand(len(real), generator=g) < 0.5
            real = torch.where(flip[:, None, None, None], real.flip(3), real)
            z = torch.randn(len(real), args.nz, 1, 1, generator=g)
            fake = G(z)
            lossD = bce(D(real), torch.ones(len(real))) + bce(D(fake.detach()), torch.zeros(len(real)))
            optD.zero_grad(set_to_none=True)
            lossD.backward()
            optD.step()
            lossG = bce(D(fake), torch.ones(len(real)))
            optG.zero_grad(set_to_none=True)
            lossG.backward()
            optG.step()
            sd, sg = sd + lossD.item(), sg + lossG.item()
        history.append((ep + 1, sd / nb, sg / nb))
        el = time.time() - t_train
        print(f"epoch {ep + 1} lossD {sd / nb:.4f} lossG {sg / nb:.4f} {el:.0f}s ({el / (ep + 1):.1f}s/epoch)", flush=True)
        if (ep + 1) % 10 == 0:
            G.eval()
            with torch.no_grad():
                grid(G(fixed)).save(os.path.join(args.tmp, f"samples-{ep + 1:03d}.png"))
            G.train()
    if args.bench:
        return
    train_s = time.time() - t_train

    G.eval()
    sdict = {k: v.detach().clone().float() for k, v in G.state_dict().items() if not k.endswith("num_batches_tracked")}
    safetensors_io.save(sdict, os.path.join(args.out, "model.safetensors"), {"format": "pt"})
    torch.save(D.state_dict(), os.path.join(args.tmp, "discriminator.pt"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"model_type": "dcgan", "nz": args.nz, "ngf": args.ngf, "image_size": 32, "channels": 3,
                   "output_range": [-1, 1]}, f, indent=2)
    w, _ = safetensors_io.load(os.path.join(args.out, "model.safetensors"))
    G64 = Generator(args.nz, args.ngf).double()
    G64.load_state_dict({k: v.double() for k, v in w.items()}, strict=False)
    G64.eval()
    with torch.no_grad():
        grid(G64(fixed.double()).float()).save(os.path.join(args.out, "samples-pytorch.png"))
        z = torch.randn(4, args.nz, 1, 1, generator=torch.Generator().manual_seed(7))
        imgs = G64(z.double())
    safetensors_io.save({"z": z, "images": imgs.float()}, os.path.join(args.out, "reference.safetensors"),
                        {"note": "float64 eval-mode forward of model.safetensors; z = torch.randn(4, nz, 1, 1) seed 7"})
    summary = {"images": len(data), "epochs": args.epochs, "batch": args.batch, "train_seconds": round(train_s),
               "total_seconds": round(time.time() - t0), "history": history}
    with open(os.path.join(args.tmp, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}), flush=True)


if __name__ == "__main__":
    main()
