"""Trains the default DCGAN generator (pretrained/dcgan-emoji) on Noto Color Emoji glyphs (Debian fonts-noto-color-emoji).

Data: every glyph the font maps, one string per glyph id: the cmap code points plus every GSUB ligature
(ZWJ sequences, flags, skin tones, keycaps), read from the font's own tables. Each string is drawn with PIL
(raqm layout, embedded colour bitmaps at 109 px), composited on white, cropped to its ink, centred on a
white square and resized to 32x32 with LANCZOS. Horizontal flips augment the training batches.
Model: the PyTorch-examples DCGAN (generator `main` = nn.Sequential), nz 64, ngf 64, ndf 64.

  nice -n 15 /usr/bin/python3 tools/train_dcgan.py --epochs 50 --convt zeros --out pretrained/dcgan-emoji

(the shipped generator's run; `--convt phase`, the default, computes the same transposed convolutions
4x faster). The options of the attempts to improve it (pretrained/dcgan-emoji/TRAINING.md): --init-g and
--d-warmup (a second stage from trained weights), --ema (an exponential moving average of the generator,
BatchNorm statistics recomputed), --diffaug translation, --subset base (one code point a glyph),
--max-minutes, --export (write --out from a checkpoint).
"""
import argparse
import copy
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


def in_subset(s, subset):
    """'all': every glyph; 'base': one code point each (no skin-tone variants, ZWJ sequences, flags, keycaps)."""
    return subset == "all" or len([c for c in s if not 0xFE00 <= ord(c) <= 0xFE0F]) == 1


def dataset(cache, subset="all"):
    if os.path.exists(cache):
        return np.load(cache)
    font = ImageFont.truetype(FONT, 109)
    imgs = [im for im in (render(s, font) for s in emoji_strings() if in_subset(s, subset)) if im is not None]
    arr = np.stack(imgs)
    np.save(cache, arr)
    return arr


# ---------------------------------------------------------------- models (PyTorch examples' DCGAN, 32x32)
class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d (same parameters, same result) computed with plain convolutions: Debian's torch runs
    transposed convolutions through its slow reference BLAS but plain convolutions through oneDNN.
    IMPL "phase" (default): a stride-2, 4x4, padding-1 layer is four stride-1 2x2 convolutions, one per output
    pixel phase (rows 2m + a, columns 2n + b), interleaved; 4x fewer multiply-adds than "zeros": one stride-1
    convolution of the zero-upsampled input with the flipped, transposed kernel (the v1 run's). Both equal
    F.conv_transpose2d to ~1e-15 relative in float64."""

    IMPL = "phase"

    def forward(self, x):
        s, p, k = self.stride[0], self.padding[0], self.kernel_size[0]
        w = self.weight.transpose(0, 1)  # [out, in, k, k]
        if s == 2 and k == 4 and p == 1 and self.IMPL == "phase":
            # y[2m + a] = sum_t x[m - 1 + a + t] * w[3 - a - 2t], t in {0, 1} (per axis)
            rows = []
            for a in (0, 1):
                cols = []
                for b in (0, 1):
                    kab = w[:, :, [3 - a, 1 - a]][:, :, :, [3 - b, 1 - b]]
                    cols.append(F.conv2d(F.pad(x, (1 - b, b, 1 - a, a)), kab))
                rows.append(torch.stack(cols, -1))
            y = torch.stack(rows, 3)  # [N, C, H, 2, W, 2]
            y = y.reshape(y.shape[0], y.shape[1], 2 * x.shape[2], 2 * x.shape[3])
            return y if self.bias is None else y + self.bias[:, None, None]
        if s > 1:
            up = x.new_zeros(x.shape[0], x.shape[1], (x.shape[2] - 1) * s + 1, (x.shape[3] - 1) * s + 1)
            up[:, :, ::s, ::s] = x
            x = up
        return F.conv2d(x, w.flip(2, 3), self.bias, padding=k - 1 - p)


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


def translate(x, g, frac=0.125):
    """DiffAugment translation: every image shifted by its own random whole-pixel offset in
    [-frac*size, frac*size] per axis, the uncovered border white (+1). Differentiable (gathers), so it is
    applied to real and generated images alike before the discriminator and never leaks into the generator."""
    n, c, h, w = x.shape
    sh, sw = int(h * frac + 0.5), int(w * frac + 0.5)
    dy = torch.randint(-sh, sh + 1, (n,), generator=g)
    dx = torch.randint(-sw, sw + 1, (n,), generator=g)
    xp = F.pad(x, (sw, sw, sh, sh), value=1.0)
    rows = (torch.arange(h)[None, :] + sh - dy[:, None]).clamp(0, h + 2 * sh - 1)  # [n, h]
    cols = (torch.arange(w)[None, :] + sw - dx[:, None]).clamp(0, w + 2 * sw - 1)  # [n, w]
    xp = xp.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * sw))
    return xp.gather(3, cols[:, None, None, :].expand(n, c, h, w))


@torch.no_grad()
def ema_update(ema, model, decay):
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - decay)


@torch.no_grad()
def recompute_bn(G, nz, batches, batch, seed=3):
    """BatchNorm running stats for G's current weights: the plain average over `batches` train-mode batches of
    fresh z (momentum None), so the eval-mode generator normalises as the train-mode one does on average."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    G.train()
    for _ in range(batches):
        G(torch.randn(batch, nz, 1, 1, generator=g))
    for m in bns:
        m.momentum = 0.1
    G.eval()


def grid(x, n=8):
    """[n*n, 3, H, W] in [-1, 1] -> PIL image with 2 px white gaps."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    h, w = x.shape[1:3]
    out = np.full((n * (h + 2) + 2, n * (w + 2) + 2, 3), 255, np.uint8)
    for i in range(n * n):
        r, c = divmod(i, n)
        out[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = x[i]
    return Image.fromarray(out)


def export(G, args, fixed, out):
    """model.safetensors (eval mode, F32, no num_batches_tracked), config.json, samples-pytorch.png (float64,
    z = fixed) and reference.safetensors (z = torch.randn(4, nz, 1, 1) seed 7, float64 eval-mode images)."""
    os.makedirs(out, exist_ok=True)
    G.eval()
    sdict = {k: v.detach().clone().float() for k, v in G.state_dict().items() if not k.endswith("num_batches_tracked")}
    safetensors_io.save(sdict, os.path.join(out, "model.safetensors"), {"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model_type": "dcgan", "nz": args.nz, "ngf": args.ngf, "image_size": 32, "channels": 3,
                   "output_range": [-1, 1]}, f, indent=2)
    w, _ = safetensors_io.load(os.path.join(out, "model.safetensors"))
    G64 = Generator(args.nz, args.ngf).double()
    G64.load_state_dict({k: v.double() for k, v in w.items()}, strict=False)
    G64.eval()
    with torch.no_grad():
        grid(G64(fixed.double()).float()).save(os.path.join(out, "samples-pytorch.png"))
        z = torch.randn(4, args.nz, 1, 1, generator=torch.Generator().manual_seed(7))
        imgs = G64(z.double())
    safetensors_io.save({"z": z, "images": imgs.float()}, os.path.join(out, "reference.safetensors"),
                        {"note": "float64 eval-mode forward of model.safetensors; z = torch.randn(4, nz, 1, 1) seed 7"})


def load_g(G, path):
    """Generator weights and BN buffers from a model.safetensors (as export writes) or a torch state dict."""
    if path.endswith(".safetensors"):
        w, _ = safetensors_io.load(path)
    else:
        w = torch.load(path)
    missing, unexpected = G.load_state_dict({k: v.float() for k, v in w.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)


def main():
    ap = argparse.ArgumentParser(description="Defaults: the v1 recipe (50 epochs from scratch, no EMA, no augmentation).")
    ap.add_argument("--out", default="pretrained/dcgan-emoji")
    ap.add_argument("--tmp", default="/tmp/dcgan-emoji")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--nz", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--convt", choices=["phase", "zeros"], default="phase",
                    help="how ConvTranspose2d is computed (same result; v1 ran 'zeros', 'phase' is faster)")
    ap.add_argument("--init-g", help="start the generator from these weights (model.safetensors or a .pt state dict)")
    ap.add_argument("--d-warmup", type=int, default=0,
                    help="discriminator-only iterations against the (frozen) initial generator before joint training")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="exponential moving average of the generator's weights with this decay per iteration "
                         "(0: none); the saved generator is then the EMA one with recomputed BN statistics")
    ap.add_argument("--ema-bn", type=int, default=64, help="train-mode batches of fresh z that set the EMA generator's BN stats")
    ap.add_argument("--diffaug", choices=["none", "translation"], default="none",
                    help="differentiable augmentation of every discriminator input (real and generated)")
    ap.add_argument("--sample-every", type=int, default=10, help="epochs between sample grids/checkpoints in --tmp")
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop after the first epoch that ends past this training time (0: no limit)")
    ap.add_argument("--export", help="only write --out from this generator checkpoint (.pt from --tmp/ckpt)")
    ap.add_argument("--subset", choices=["all", "base"], default="all",
                    help="which glyphs: all of them, or one code point each (see in_subset)")
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ConvTranspose2d.IMPL = args.convt
    fixed = torch.randn(64, args.nz, 1, 1, generator=torch.Generator().manual_seed(7))
    if args.export:
        G = Generator(args.nz, args.ngf)
        load_g(G, args.export)
        export(G, args, fixed, args.out)
        return
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.join(args.tmp, "ckpt"), exist_ok=True)
    t0 = time.time()
    data = torch.from_numpy(dataset(os.path.join(args.tmp, "emoji32.npy" if args.subset == "all" else f"emoji32-{args.subset}.npy"), args.subset)).permute(0, 3, 1, 2).float() / 127.5 - 1
    print(f"images {len(data)} ({time.time() - t0:.0f}s)", flush=True)
    grid(data[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:64]]).save(os.path.join(args.tmp, "data.png"))

    torch.manual_seed(1)
    G, D = Generator(args.nz, args.ngf), Discriminator(args.ndf)
    G.apply(weights_init)
    D.apply(weights_init)
    if args.init_g:
        load_g(G, args.init_g)
    print(f"params G {sum(p.numel() for p in G.parameters())} D {sum(p.numel() for p in D.parameters())}", flush=True)
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(2)
    g_aug = torch.Generator().manual_seed(4)
    aug = (lambda x: translate(x, g_aug)) if args.diffaug == "translation" else (lambda x: x)
    nb = len(data) // args.batch

    def batches():
        perm = torch.randperm(len(data), generator=g)
        for i in range(nb):
            real = data[perm[i * args.batch:(i + 1) * args.batch]]
            flip = torch.rand(len(real), generator=g) < 0.5
            yield torch.where(flip[:, None, None, None], real.flip(3), real), torch.randn(len(real), args.nz, 1, 1, generator=g)

    def d_step(real, fake):
        lossD = bce(D(aug(real)), torch.ones(len(real))) + bce(D(aug(fake)), torch.zeros(len(real)))
        optD.zero_grad(set_to_none=True)
        lossD.backward()
        optD.step()
        return lossD.item()

    t_train, history = time.time(), []
    done = 0
    while done < args.d_warmup:  # the discriminator catches up with a pretrained generator
        for real, z in batches():
            if done == args.d_warmup:
                break
            with torch.no_grad():
                fake = G(z)
            lossD = d_step(real, fake)
            done += 1
            if done % 20 == 0:
                print(f"D warm-up {done}/{args.d_warmup} lossD {lossD:.4f} {time.time() - t_train:.0f}s", flush=True)

    G_ema = copy.deepcopy(G) if args.ema else None
    step = 0

    def snapshot(tag):
        G.eval()
        with torch.no_grad():
            grid(G(fixed)).save(os.path.join(args.tmp, f"samples-{tag}.png"))
        torch.save(G.state_dict(), os.path.join(args.tmp, "ckpt", f"g-{tag}.pt"))
        G.train()
        if G_ema is not None:
            recompute_bn(G_ema, args.nz, args.ema_bn, args.batch)
            with torch.no_grad():
                grid(G_ema(fixed)).save(os.path.join(args.tmp, f"samples-ema-{tag}.png"))
            torch.save(G_ema.state_dict(), os.path.join(args.tmp, "ckpt", f"ema-{tag}.pt"))

    if args.init_g and not args.bench:
        snapshot("000")
    epochs = 1 if args.bench else args.epochs
    for ep in range(epochs):
        sd = sg = 0.0
        for real, z in batches():
            fake = G(z)
            sd += d_step(real, fake.detach())
            D.requires_grad_(False)  # the generator step needs no discriminator weight gradients
            lossG = bce(D(aug(fake)), torch.ones(len(real)))
            optG.zero_grad(set_to_none=True)
            lossG.backward()
            optG.step()
            D.requires_grad_(True)
            sg += lossG.item()
            if G_ema is not None:
                ema_update(G_ema, G, min(args.ema, (1 + step) / (10 + step)))
            step += 1
        history.append((ep + 1, sd / nb, sg / nb))
        el = time.time() - t_train
        print(f"epoch {ep + 1} lossD {sd / nb:.4f} lossG {sg / nb:.4f} {el:.0f}s ({el / (ep + 1):.1f}s/epoch)", flush=True)
        last = args.max_minutes and el > 60 * args.max_minutes
        if (ep + 1) % args.sample_every == 0 or ep + 1 == epochs or last:
            snapshot(f"{ep + 1:03d}")
        if last:
            print(f"time limit: stopping after epoch {ep + 1}", flush=True)
            break
    if args.bench:
        return
    train_s = time.time() - t_train

    torch.save(D.state_dict(), os.path.join(args.tmp, "discriminator.pt"))
    export(G_ema if G_ema is not None else G, args, fixed, args.out)
    summary = {"images": len(data), "epochs": len(history), "iterations": step, "d_warmup": args.d_warmup,
               "batch": args.batch, "train_seconds": round(train_s), "total_seconds": round(time.time() - t0),
               "args": vars(args), "history": history}
    with open(os.path.join(args.tmp, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("history", "args")}), flush=True)


if __name__ == "__main__":
    main()
