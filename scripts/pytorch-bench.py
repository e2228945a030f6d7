#!/usr/bin/env python3
"""Training throughput in PyTorch eager of the networks `patchwork bench` trains, for a
side-by-side comparison with Patchwork on the same machine (a CUDA GPU or the CPU).

Each model is built as ours is (same layers, so the same trainable parameter count; it is
printed, beside ours where known), trained with Adam on synthetic batches of uniform noise
in [-1, 1] (what our bench feeds after normalisation) with the same number of forward and
backward passes per step as our `train_step`, at our bench's defaults (batch, image size,
channels, warm-up, runs, steps per run). The reported rate is the median over timed runs
of training images per second; for mixing scenes one step is one iteration as our bench
counts it (2 generator steps, 1 discriminator step, 1 classifier step) and the images are
the batch's reference images. `first_step_seconds` is the time from building the model to
the end of its first training step, synchronized (on CUDA a cold start: context, cuDNN
and cuBLAS initialisation included). The inputs sit on the device before timing starts
(ours are uploaded each step; that copy is small beside a step).

    python3 scripts/pytorch-bench.py --model patchvae                      # cuda if available
    python3 scripts/pytorch-bench.py --model beta-vae --device cuda --runs 5 --steps 10 --warmup 5
    python3 scripts/pytorch-bench.py --model mixing-scenes --preset full
    python3 scripts/pytorch-bench.py --model reference-vae --device cpu --threads 2
    python3 scripts/pytorch-bench.py --model cycle-vae --device cpu --threads 2
    python3 scripts/pytorch-bench.py --model patchvae --device cpu --threads 2 --runs 5 --steps 3 --warmup 2
    python3 scripts/pytorch-bench.py --model mixing-scenes --device cpu --batch 4 --runs 1 \\
        --steps 1 --warmup 1 --patchwork target/debug/patchwork   # ask our binary for its count

Models (our `patchwork bench --model ...`): patchvae; beta-vae (the Resnet-9 architecture,
`--arch resnet9`, latent 10); mixing-scenes (`--preset small` or `full`; `both`, the
default, runs each, as our bench does); reference-vae (sRb-VAE, width 32); cycle-vae.

Prints one JSON object per line and run (per preset for mixing scenes): framework, device,
model, preset, parameters (and per network), patchwork_parameters (ours: from
`--patchwork BIN` if given, else the figures below for our default configurations, else
null), batch, size, channels, train_images_per_sec (median), train_images_per_sec_runs,
runs, steps, warmup, first_step_seconds.

Needs only `torch` (pip install torch); nothing else.
"""
import argparse
import json
import math
import platform
import random
import statistics
import subprocess
import sys
import time
import warnings

# torch warns at import when NumPy is missing; nothing here needs it.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils.parametrizations import spectral_norm  # noqa: E402

# Our bench's defaults per model (core/src/families/*/settings.rs, `FamilyInfo::bench`):
# batch, warm-up steps (the first step included), timed runs, steps per run; image size.
DEFAULTS = {
    "patchvae": dict(batch=128, warmup=3, runs=5, steps=5, size=32),
    "beta-vae": dict(batch=128, warmup=3, runs=5, steps=5, size=32),
    "mixing-scenes": dict(batch=12, warmup=1, runs=3, steps=1, size=64),
    "reference-vae": dict(batch=36, warmup=2, runs=3, steps=3, size=64),
    "cycle-vae": dict(batch=64, warmup=3, runs=5, steps=5, size=28),
}

# `patchwork bench --model M --device cpu --json`'s "parameters" for our default
# configurations (RGB at the default size), as checked when this script was written; pass
# --patchwork BIN to ask the binary instead.
OURS = {
    ("patchvae", None, 32, 3): 1_606_800,  # encoder 922,896, decoder 683,904
    ("beta-vae", None, 32, 3): 1_397_972,
    ("mixing-scenes", "small", 64, 3): 937_463,
    ("mixing-scenes", "full", 64, 3): 45_326_622,  # 2,800,512 + 5,300,339 + 1,188,391 + 36,037,380
    ("reference-vae", None, 64, 3): 7_195_397,  # E, Z 1,434,464 each; G 1,425,187; d 1,453,217; d' 1,448,065
    ("cycle-vae", None, 28, 3): 160_899,
}

LR = 1e-4  # our bench's (generator) learning rate; it does not change the cost


def count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


# ---------------------------------------------------------------------------------------
# Resnet-9 (core/src/nn/blocks.rs): ResNet-18's stem and its first two stages.


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.proj(x) if self.proj is not None else x))


class Resnet9(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.blocks = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1), BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))

    def forward(self, x):
        return self.blocks(F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1))


# ---------------------------------------------------------------------------------------
# PatchVAE (core/src/families/patch_vae): 16 parts of 6 appearance dimensions, relaxed
# Bernoulli occurrences, the official code's loss.


class PatchVae(nn.Module):
    def __init__(self, c=3, n=16, d=6, ngf=64):
        super().__init__()
        self.n, self.d = n, d
        self.backbone = Resnet9(c)
        self.occ = nn.Conv2d(128, n, 3, 1, 1)
        self.mu = nn.Conv2d(128, n * d, 3, 1, 1)
        self.logvar = nn.Conv2d(128, n * d, 3, 1, 1)
        w = ngf * 4
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(n * d, w, 1, 1, 0, bias=False), nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w // 2), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(w // 2, w // 4, 4, 2, 1, bias=False), nn.BatchNorm2d(w // 4), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(ngf, c, 4, 2, 1, bias=False), nn.Tanh())

    def networks(self):
        return {"encoder": [self.backbone, self.occ, self.mu, self.logvar], "decoder": [self.dec]}

    def loss(self, x, tau=1.0, prior=1 / 16, beta_occ=10.0, beta_app=1.0):
        f = self.backbone(x)
        logits = self.occ(f)
        b, n, h, w = logits.shape
        probs = torch.sigmoid(logits)
        mu = self.mu(f).view(b, n, self.d, h * w)
        var = self.logvar(f).exp().clamp(1e-7, 1e7).view(b, n, self.d, h * w)
        wts = probs.detach().view(b, n, 1, h * w)
        den = wts.sum(3) + 1e-7
        app_mu = (mu * wts).sum(3) / den
        app_var = ((var * wts).sum(3) + 1e-7) / den
        u = torch.rand_like(logits).clamp(1e-7, 1 - 1e-7)
        z_occ = torch.sigmoid((logits + u.log() - (1 - u).log()) / tau)
        z_app = app_mu + app_var.sqrt() * torch.randn_like(app_mu)
        code = (z_occ.unsqueeze(2) * z_app.view(b, n, self.d, 1, 1)).view(b, n * self.d, h, w)
        recon = self.dec(code)
        rec = ((recon - x) ** 2).sum() / b
        p = probs.clamp(1e-7, 1 - 1e-7)
        kl_occ = (p * (p / prior).log() + (1 - p) * ((1 - p) / (1 - prior)).log()).sum() / b
        kl_app = 0.5 * (app_mu ** 2 + app_var - app_var.log() - 1).sum() / b
        return rec + beta_occ * kl_occ + beta_app * kl_app

    def trainer(self, batch, size, device):
        opt = torch.optim.Adam(self.parameters(), lr=LR)
        x = rand_images(batch, self.backbone.conv1.in_channels, size, device)

        def step():
            opt.zero_grad(set_to_none=True)
            self.loss(x).backward()
            opt.step()
        return step


# ---------------------------------------------------------------------------------------
# β-VAE, Resnet-9 architecture (core/src/families/beta_vae): the PatchVAE paper's baseline,
# latent 10, β = 4, squared error on tanh outputs.


class BetaVaeResnet9(nn.Module):
    def __init__(self, c=3, size=32, z=10, beta=4.0):
        super().__init__()
        k = size // 8  # the heads cover the whole H/8 × W/8 feature map
        self.c, self.z, self.beta = c, z, beta
        self.backbone = Resnet9(c)
        self.reduce = nn.Conv2d(128, 64, 1, 1, 0, bias=False)
        self.reduce_bn = nn.BatchNorm2d(64)
        self.mu = nn.Conv2d(64, z, k)
        self.logvar = nn.Conv2d(64, z, k)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(z, 64, k, 1, 0, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 256, 1, 1, 0, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(64, c, 4, 2, 1, bias=False))

    def networks(self):
        return {"encoder": [self.backbone, self.reduce, self.reduce_bn, self.mu, self.logvar], "decoder": [self.dec]}

    def loss(self, x):
        b = x.shape[0]
        h = F.relu(self.reduce_bn(self.reduce(self.backbone(x))))
        mu, logvar = self.mu(h).view(b, self.z), self.logvar(h).view(b, self.z)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = self.dec(z.view(b, self.z, 1, 1)).tanh()
        rec = ((recon - x) ** 2).sum() / b
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / b
        return rec + self.beta * kl

    def trainer(self, batch, size, device):
        opt = torch.optim.Adam(self.parameters(), lr=LR)
        x = rand_images(batch, self.c, size, device)

        def step():
            opt.zero_grad(set_to_none=True)
            self.loss(x).backward()
            opt.step()
        return step


# ---------------------------------------------------------------------------------------
# The cycle-consistent VAE (core/src/families/cycle_vae): the official code's networks at
# 28×28 (one stage more at 64×64); one Adam step on forward + reverse cycle.


class CycleVae(nn.Module):
    def __init__(self, c=3, size=28, style=16, cls=16):
        super().__init__()
        self.c, self.style = c, style
        if size == 28:
            enc_w, pad, trunk, side, dec_w, dec_pads = [16, 32, 64], 1, 256, 2, [32, 16], [0, 0, 1]
        else:
            enc_w, pad, trunk, side, dec_w, dec_pads = [16, 32, 64, 128], 2, 2048, 4, [64, 32, 16], [1, 1, 1, 1]
        self.side = side
        half = 64 * side * side
        ins = [c] + enc_w
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 5, 2, pad) for i, o in zip(ins, enc_w))
        self.style_mu = nn.Linear(trunk, style)
        self.style_logvar = nn.Linear(trunk, style)
        self.class_output = nn.Linear(trunk, cls)
        self.style_input = nn.Linear(style, half)
        self.class_input = nn.Linear(cls, half)
        dins, douts = [128] + dec_w, dec_w + [c]
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(i, o, 4, 2, p) for i, o, p in zip(dins, douts, dec_pads))
        self.n_norms = len(dec_w)
        for p in self.parameters():  # the official code's init, normal(0, 0.05)
            nn.init.normal_(p, 0.0, 0.05)

    def networks(self):
        return {"encoder": [self.convs, self.style_mu, self.style_logvar, self.class_output],
                "decoder": [self.style_input, self.class_input, self.deconvs]}

    def encode(self, x):
        h = x
        for conv in self.convs:
            h = F.relu(F.instance_norm(conv(h)))
        h = h.flatten(1)
        return self.style_mu(h), self.style_logvar(h), self.class_output(h)

    def decode(self, style, cls):
        b = style.shape[0]
        h = torch.cat([lrelu(self.style_input(style)), lrelu(self.class_input(cls))], 1).view(b, 128, self.side, self.side)
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if i < self.n_norms:
                h = lrelu(F.instance_norm(h))
        return h.tanh()

    def trainer(self, batch, size, device):
        opt = torch.optim.Adam(self.parameters(), lr=LR)
        # x1, its same-class partners x2, and images of other classes x3 (our bench loads
        # the partners and the others from its noise pool each step).
        x1, x2, x3 = (rand_images(batch, self.c, size, device) for _ in range(3))
        pixels = batch * self.c * size * size

        def mse01(a, b):
            return ((a - b) ** 2).mean() / 4

        def kl_sum(mu, logvar):
            return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()

        def step():
            opt.zero_grad(set_to_none=True)
            mu1, lv1, s1 = self.encode(x1)
            mu2, lv2, s2 = self.encode(x2)
            z1 = mu1 + torch.randn_like(mu1) * (0.5 * lv1).exp()
            z2 = mu2 + torch.randn_like(mu2) * (0.5 * lv2).exp()
            recon = (mse01(self.decode(z1, s2), x1) + mse01(self.decode(z2, s1), x2)) * 2.0
            kl = (kl_sum(mu1, lv1) + kl_sum(mu2, lv2)) * (3.0 / pixels)
            # Reverse cycle (L1 on the re-encoded means): decoded images detached, so only
            # the re-encoding trains.
            _, _, s3 = self.encode(x3)
            z = torch.randn(batch, self.style, device=x1.device)
            g1 = self.decode(z, s1.detach()).detach()
            g3 = self.decode(z, s3.detach()).detach()
            q1, _, _ = self.encode(g1)
            q3, _, _ = self.encode(g3)
            reverse = (q1 - q3).abs().mean() * 10.0
            (recon + kl + reverse).backward()
            opt.step()
        return step


# ---------------------------------------------------------------------------------------
# The reference-based VAE (core/src/families/reference_vae): PGGAN blocks at width 32,
# sRb-VAE (the default objective): Eq. 8 + Eq. 10 applied to E, Z and G, then the two
# discriminators' logistic regression on detached inputs.


def pixel_norm(x):
    return x / (x.pow(2).mean(1, keepdim=True) + 1e-8).sqrt()


def trunk(c, w):
    plan = [(c, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w)]
    return nn.ModuleList(nn.Conv2d(i, o, 3, 1, 1) for i, o in plan)


def trunk_forward(convs, x, normalise):
    h = x
    for i, conv in enumerate(convs):
        h = conv(h)
        if normalise:
            h = pixel_norm(h)
        h = lrelu(h)
        if i in (0, 2, 4, 6):
            h = F.avg_pool2d(h, 2)
    return h.flatten(1)


class RefEncoder(nn.Module):
    def __init__(self, c, size, w, dim):
        super().__init__()
        features = 8 * w * (size // 16) ** 2
        self.convs = trunk(c, w)
        self.mu = nn.Linear(features, dim)
        self.logvar = nn.Linear(features, dim)

    def forward(self, x):
        h = trunk_forward(self.convs, x, True)
        return self.mu(h), self.logvar(h)


class RefGenerator(nn.Module):
    def __init__(self, c, size, w, zd, ed):
        super().__init__()
        self.input = nn.ConvTranspose2d(zd + ed, 8 * w, size // 16, 1, 0)
        plan = [(8 * w, 8 * w), (8 * w, 4 * w), (4 * w, 4 * w), (4 * w, 2 * w), (2 * w, 2 * w), (2 * w, w), (w, c)]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, 1, 1) for i, o in plan)
        self.reference = nn.Parameter(torch.zeros(ed))  # e_r, learned

    def forward(self, z, e):
        b = z.shape[0]
        h = lrelu(pixel_norm(self.input(torch.cat([z, e], 1).view(b, -1, 1, 1))))
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if i % 2 == 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = conv(h)
            h = h.tanh() if i == last else lrelu(pixel_norm(h))
        return h

    def reference_codes(self, n):
        return self.reference.view(1, -1).expand(n, -1)


class RefDiscriminator(nn.Module):
    def __init__(self, c, size, w, zd, ed, with_target, dropout=0.25):
        super().__init__()
        features = 8 * w * (size // 16) ** 2
        self.convs = trunk(c, w)
        self.image = nn.Linear(features, 64)
        self.common = nn.Linear(zd, 32)
        self.target = nn.Linear(ed, 32) if with_target else None
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(64 + 32 + (32 if with_target else 0), 128)
        self.output = nn.Linear(128, 1)

    def forward(self, x, z, e=None):
        parts = [lrelu(self.image(trunk_forward(self.convs, x, False))), lrelu(self.common(z))]
        if self.target is not None:
            parts.append(lrelu(self.target(e)))
        return self.output(lrelu(self.hidden(self.dropout(torch.cat(parts, 1))))).view(-1)


class ReferenceVae(nn.Module):
    def __init__(self, c=3, size=64, w=32, zd=32, ed=32):
        super().__init__()
        self.c, self.zd, self.ed = c, zd, ed
        self.target = RefEncoder(c, size, w, ed)
        self.common = RefEncoder(c, size, w, zd)
        self.generator = RefGenerator(c, size, w, zd, ed)
        self.d = RefDiscriminator(c, size, w, zd, ed, True)
        self.d_reference = RefDiscriminator(c, size, w, zd, ed, False)

    def networks(self):
        return {"target": [self.target], "common": [self.common], "generator": [self.generator], "d": [self.d], "d_reference": [self.d_reference]}

    def trainer(self, batch, size, device):
        gen_params = [*self.target.parameters(), *self.common.parameters(), *self.generator.parameters()]
        d_params = [*self.d.parameters(), *self.d_reference.parameters()]
        opt_g = torch.optim.Adam(gen_params, lr=LR)
        opt_d = torch.optim.Adam(d_params, lr=LR)
        # Our bench's noise serves as both pools, `batch` images of each (per-pool).
        x_u, x_r = rand_images(batch, self.c, size, device), rand_images(batch, self.c, size, device)
        m = batch
        log2pi = math.log(2 * math.pi)

        def sample(mu, logvar):
            return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

        def laplace(mean, x):
            return (mean - x).abs().sum() / 0.01 / x.shape[0]

        def gaussian_nll(v, mu, logvar):
            return 0.5 * (((v - mu) ** 2) / logvar.exp() + logvar + log2pi).sum() / v.shape[0]

        def logistic(logits, label):
            return -F.logsigmoid(logits if label else -logits).mean()

        def step():
            opt_g.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
            G, d, d_ref = self.generator, self.d, self.d_reference
            (mz_u, lz_u), (me_u, le_u) = self.common(x_u), self.target(x_u)
            mz_r, lz_r = self.common(x_r)
            z_u, e_u, z_r = sample(mz_u, lz_u), sample(me_u, le_u), sample(mz_r, lz_r)
            z_p = torch.randn(m, self.zd, device=device)
            e_p = torch.randn(m, self.ed, device=device)
            z_pr = torch.randn(m, self.zd, device=device)
            e_r = G.reference_codes(m)
            x_p, x_pr = G(z_p, e_p), G(z_pr, e_r)
            # Eq. 8.
            total = d(x_u, z_u, e_u).mean() - d(x_p, z_p, e_p).mean() + d_ref(x_r, z_r).mean() - d_ref(x_pr, z_pr).mean()
            # Eq. 10: images of both pools, then prior codes re-encoded from their images.
            decoded_u = G(z_u, e_u)
            total = total + laplace(decoded_u, x_u) + laplace(G(z_r, e_r), x_r)
            (mz_p, lz_p), (me_p, le_p) = self.common(x_p), self.target(x_p)
            mz_pr, lz_pr = self.common(x_pr)
            total = total + gaussian_nll(z_p, mz_p, lz_p) + gaussian_nll(e_p, me_p, le_p) + gaussian_nll(z_pr, mz_pr, lz_pr)
            with torch.no_grad():  # the e_effect measure: G with e redrawn
                (G(z_u.detach(), torch.randn(m, self.ed, device=device)) - decoded_u.detach()).abs().mean()
            # The discriminators on the same samples, detached.
            d_loss = (logistic(d(x_u, z_u.detach(), e_u.detach()), True) + logistic(d(x_p.detach(), z_p, e_p), False)
                      + logistic(d_ref(x_r, z_r.detach()), True) + logistic(d_ref(x_pr.detach(), z_pr), False))
            total.backward()
            for p in d_params:  # total's gradients reach d and d' too; ours drops them
                p.grad = None
            d_loss.backward()
            opt_g.step()
            opt_d.step()
        return step


# ---------------------------------------------------------------------------------------
# Mixing scenes (core/src/families/mixing_scenes): FC-DenseNet encoder with CoordConv,
# spectral-norm dense decoder, PatchGAN, AlexNet-with-BN quadrant classifier.

MIXING_PRESETS = {
    # encoder: first maps, growth, chunk, layers; decoder: growth, width divisor, layers;
    # judges' width divisor.
    "small": dict(first=16, growth=8, chunk=48, layers=[2, 2, 3, 3, 4], dgrowth=8, ddiv=4, dlayers=[4, 3, 3, 2, 2], judge_div=8),
    "full": dict(first=48, growth=16, chunk=192, layers=[4, 5, 7, 10, 12], dgrowth=16, ddiv=1, dlayers=[12, 10, 7, 5, 4], judge_div=1),
}
TRANSITION_UP_MAPS = [656, 464, 304, 192, 112]


def sn_conv(cin, cout, k, s, p, bias):
    return spectral_norm(nn.Conv2d(cin, cout, k, s, p, bias=bias))


class MixingEncoder(nn.Module):
    def __init__(self, c, first, growth, chunk, layers):
        super().__init__()
        self.first = nn.Conv2d(c + 2, first, 3, 1, 1)
        ch = first
        self.blocks, self.downs = nn.ModuleList(), nn.ModuleList()
        for n in layers:
            block = nn.ModuleList()
            for _ in range(n):
                block.append(nn.Conv2d(ch, growth, 3, 1, 1))
                ch += growth
            self.blocks.append(block)
            self.downs.append(nn.Conv2d(ch, ch, 1, 1, 0))
        self.last = nn.Conv2d(ch, chunk, 1, 1, 0)

    def forward(self, x):
        b, _, h, w = x.shape
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
        y = self.first(torch.cat([x, xs, ys], 1))
        for block, down in zip(self.blocks, self.downs):
            for conv in block:  # instance norm (no affine) → ReLU → 3×3 conv, concatenated
                y = torch.cat([y, conv(F.relu(F.instance_norm(y)))], 1)
            y = F.max_pool2d(down(F.relu(F.instance_norm(y))), 2)
        m = self.last(y)  # [b, chunk, 2, 2] → chunks in row-major quadrant order
        return m.flatten(2).transpose(1, 2).reshape(b, -1)


class MixingDecoder(nn.Module):
    def __init__(self, c, chunk, growth, div, layers):
        super().__init__()
        self.chunk = chunk
        self.ups, self.blocks = nn.ModuleList(), nn.ModuleList()
        inp = chunk
        for maps, n in zip(TRANSITION_UP_MAPS, layers):
            maps = max(maps // div, 1)
            self.ups.append(sn_conv(inp, maps, 3, 1, 1, False))
            ch = maps
            block = nn.ModuleList()
            for _ in range(n):
                block.append(sn_conv(ch, growth, 3, 1, 1, True))
                ch += growth
            self.blocks.append(block)
            concat, inp = ch, n * growth
        self.out = sn_conv(concat, c, 1, 1, 0, True)

    def forward(self, z):
        b = z.shape[0]
        y = z.view(b, 4, self.chunk).transpose(1, 2).reshape(b, self.chunk, 2, 2)
        last = len(self.blocks) - 1
        for i, (up, block) in enumerate(zip(self.ups, self.blocks)):
            y = up(F.interpolate(y, scale_factor=2, mode="nearest"))
            concat, new = y, []
            for conv in block:
                n = conv(F.relu(concat))
                concat = torch.cat([concat, n], 1)
                new.append(n)
            if i == last:
                return self.out(concat).tanh()
            y = torch.cat(new, 1)  # only the block's new maps go on


class PatchGan(nn.Module):
    def __init__(self, c, m):
        super().__init__()
        self.first = nn.Conv2d(c, m, 4, 2, 1)
        self.normalised = nn.ModuleList([sn_conv(m, 2 * m, 4, 2, 1, True), sn_conv(2 * m, 4 * m, 4, 2, 1, True), sn_conv(4 * m, 8 * m, 4, 2, 1, True)])
        self.out = nn.Conv2d(8 * m, 1, 1, 1, 0)

    def forward(self, x):
        y = lrelu(self.first(x))
        for layer in self.normalised:
            y = lrelu(layer(y))
        return self.out(y)


class QuadrantClassifier(nn.Module):
    def __init__(self, c, div):
        super().__init__()
        maps = [max(m // div, 1) for m in (64, 192, 384, 256, 256)]
        kernels, strides = [5, 5, 3, 3, 3], [2, 1, 1, 1, 1]
        ins = [2 * c] + maps[:-1]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, k // 2) for i, o, k, s in zip(ins, maps, kernels, strides))
        self.norms = nn.ModuleList(nn.BatchNorm2d(o) for o in maps)
        fc = max(4096 // div, 1)
        self.fc6 = nn.Linear(maps[4] * 16, fc)
        self.fc7 = nn.Linear(fc, fc)
        self.fc8 = nn.Linear(fc, 4)

    def forward(self, mix, candidate):
        y = torch.cat([mix, candidate], 1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            y = F.relu(norm(conv(y)))
            if i in (0, 1, 4):
                y = F.max_pool2d(y, 2)
        return self.fc8(F.relu(self.fc7(F.relu(self.fc6(y.flatten(1))))))


def mix_mask(rng, tau=0.33):
    """Algorithm 1's mask for four candidates whose distances are drawn uniformly, τ at
    the distances' 0.33 quantile (our default): the farthest kept, the nearest replaced,
    the other two replaced when within τ (core/src/mixing/algorithm.rs)."""
    d = [rng.random() for _ in range(4)]
    greatest = max(range(4), key=lambda i: (d[i], -i))
    others = [i for i in range(4) if i != greatest]
    lowest = min(others, key=lambda i: (d[i], i))
    return [i != greatest and (i == lowest or d[i] <= tau) for i in range(4)]


class MixingScenes(nn.Module):
    def __init__(self, c=3, preset="small"):
        super().__init__()
        p = MIXING_PRESETS[preset]
        self.c, self.chunk = c, p["chunk"]
        self.encoder = MixingEncoder(c, p["first"], p["growth"], p["chunk"], p["layers"])
        self.decoder = MixingDecoder(c, p["chunk"], p["dgrowth"], p["ddiv"], p["dlayers"])
        self.discriminator = PatchGan(c, max(42 // p["judge_div"], 1))
        self.classifier = QuadrantClassifier(c, p["judge_div"])

    def networks(self):
        return {"encoder": [self.encoder], "decoder": [self.decoder], "discriminator": [self.discriminator], "classifier": [self.classifier]}

    def trainer(self, batch, size, device):
        b, chunk = batch, self.chunk
        opt_g = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=LR)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=4e-4 * LR / 1e-4)
        opt_c = torch.optim.Adam(self.classifier.parameters(), lr=2e-4 * LR / 1e-4)
        reference = rand_images(b, self.c, size, device)
        candidates = rand_images(4 * b, self.c, size, device)  # all for quadrant 0, then 1, …
        rng = random.Random(1)

        def bce(logits, target):  # softplus(x) − t·x, averaged
            return (F.softplus(logits) - logits * target).mean()

        def adversarial(x, target):
            return bce(self.discriminator(x).flatten(1), target)

        def classifier_loss(mix, targets):
            total = 0
            for j in range(4):
                logits = self.classifier(mix, candidates[j * b:(j + 1) * b])
                total = total + (F.softplus(logits) - logits * targets[j]).sum(1).mean()
            return total

        def frozen(module, on):
            for p in module.parameters():
                p.requires_grad_(not on)

        def generator_pass(rows, placement, weights, targets, count):
            # Only the candidates that replace a quadrant are encoded, with the references.
            z = self.encoder(torch.cat([reference, candidates.index_select(0, rows)]))
            f_ref, zr = z[:b], z[b:b + count]
            replacement = torch.cat([placement[q] @ zr[:, q * chunk:(q + 1) * chunk] for q in range(4)], 1)
            f_mix = f_ref + (replacement - f_ref) * weights
            direct = self.decoder(f_ref)
            mix = self.decoder(f_mix)
            f_cycle = self.encoder(mix)
            cycle = self.decoder(f_cycle + (f_ref - f_cycle) * weights)
            recon = (direct - reference).abs().mean() + (cycle - reference).abs().mean()
            total = 0.904 * recon
            # The judges pass gradients back to the mix only.
            frozen(self.discriminator, True)
            frozen(self.classifier, True)
            total = total + 0.052 * adversarial(mix, 1.0) + 0.044 * classifier_loss(mix, targets)
            frozen(self.discriminator, False)
            frozen(self.classifier, False)
            return total, mix

        def step():
            masks = [mix_mask(rng) for _ in range(b)]
            replaced = [(q, i) for q in range(4) for i in range(b) if masks[i][q]]
            rows = torch.tensor([q * b + i for q, i in replaced], device=device)
            place = torch.zeros(4, b, len(replaced))
            for k, (q, i) in enumerate(replaced):
                place[q, i, k] = 1.0
            weights = torch.tensor([[float(m[q]) for q in range(4) for _ in range(chunk)] for m in masks]).to(device)
            targets = torch.zeros(4, b, 4)
            for j in range(4):
                for i, m in enumerate(masks):
                    targets[j, i, j] = float(m[j])
            place, targets = place.to(device), targets.to(device)
            for _ in range(2):  # two generator steps: encoder and decoder
                opt_g.zero_grad(set_to_none=True)
                total, mix = generator_pass(rows, place, weights, targets, len(replaced))
                total.backward()
                opt_g.step()
            mix = mix.detach()
            opt_d.zero_grad(set_to_none=True)  # discriminator: real references, fake mixes
            (adversarial(reference, 1.0) + adversarial(mix, 0.0)).backward()
            opt_d.step()
            opt_c.zero_grad(set_to_none=True)  # classifier, on the same mixes
            classifier_loss(mix, targets).backward()
            opt_c.step()
        return step


# ---------------------------------------------------------------------------------------


def rand_images(n, c, size, device):
    return torch.rand(n, c, size, size, device=device) * 2 - 1


def build(model, channels, size, preset):
    if model == "patchvae":
        return PatchVae(channels)
    if model == "beta-vae":
        return BetaVaeResnet9(channels, size)
    if model == "cycle-vae":
        return CycleVae(channels, size)
    if model == "reference-vae":
        return ReferenceVae(channels, size)
    return MixingScenes(channels, preset)


def check(model, channels, size):
    ok = {
        "patchvae": size in (32, 64),
        "beta-vae": size in (32, 64),
        "cycle-vae": size in (28, 64),
        "reference-vae": 16 <= size <= 256 and size % 16 == 0,
        "mixing-scenes": size == 64,
    }[model]
    if not ok:
        sys.exit(f"{model}: image size {size} is not one our model takes")
    if channels not in (1, 3) or (model == "mixing-scenes" and channels != 3):
        sys.exit(f"{model}: {channels} channels is not what our model takes")


def patchwork_flags(model, channels, size, preset):
    if model == "mixing-scenes":
        return ["--model", model, "--preset", preset]
    arch = ["--arch", "resnet9"] if model == "beta-vae" else []
    return ["--model", model, *arch, "--size", str(size), "--channels", str(channels)]


def patchwork_parameters(binary, model, channels, size, preset):
    """Asks our binary for its parameter count (a tiny CPU bench)."""
    cmd = [binary, "bench", *patchwork_flags(model, channels, size, preset), "--device", "cpu", "--batch", "2", "--runs", "1", "--steps", "1", "--warmup", "1", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.JSONDecoder().raw_decode(out[out.index("{"):])[0]["parameters"]


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu: {name}, {torch.get_num_threads()} threads"


def bench(args, model_name, preset, device):
    d = DEFAULTS[model_name]
    batch, size = args.batch or d["batch"], args.size or d["size"]
    warmup = max(1, d["warmup"] if args.warmup is None else args.warmup)
    runs = d["runs"] if args.runs is None else args.runs
    steps = d["steps"] if args.steps is None else args.steps
    check(model_name, args.channels, size)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(1)
    start = time.perf_counter()
    with torch.device(device):
        model = build(model_name, args.channels, size, preset)
    model.train()
    step = model.trainer(batch, size, device)
    # The first step is always taken, and timed from the start (as ours).
    step()
    sync()
    first_step = time.perf_counter() - start
    for _ in range(1, warmup):
        step()
    sync()
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(batch * steps / (time.perf_counter() - t))
    networks = {name: sum(count(m) for m in mods) for name, mods in model.networks().items()}
    parameters = count(model)
    assert parameters == sum(networks.values()), "a parameter outside the named networks"
    key = (model_name, preset if model_name == "mixing-scenes" else None, size, args.channels)
    ours = patchwork_parameters(args.patchwork, model_name, args.channels, size, preset) if args.patchwork else OURS.get(key)
    if ours is not None and ours != parameters:
        print(f"warning: {model_name}: {parameters} parameters here, {ours} in Patchwork", file=sys.stderr)
    name = device_name(device)
    return {
        "framework": f"torch {torch.__version__} eager, {name}",
        "device": name,
        "model": model_name,
        "preset": preset if model_name == "mixing-scenes" else None,
        "parameters": parameters,
        "networks": networks,
        "patchwork_parameters": ours,
        "batch": batch,
        "size": size,
        "channels": args.channels,
        "train_images_per_sec": statistics.median(rates) if rates else None,
        "train_images_per_sec_runs": [round(r, 2) for r in rates],
        "runs": runs,
        "steps": steps,
        "warmup": warmup,
        "first_step_seconds": round(first_step, 3),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(DEFAULTS), default="patchvae")
    ap.add_argument("--arch", choices=["resnet9"], default="resnet9", help="beta-vae: the architecture (only resnet9 here)")
    ap.add_argument("--preset", choices=["small", "full", "both"], default="both", help="mixing-scenes: network size (default: each, as our bench)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    ap.add_argument("--batch", type=int, help="default: our bench's for the model")
    ap.add_argument("--size", type=int, help="image size (default: our bench's for the model)")
    ap.add_argument("--channels", type=int, default=3, help="image channels (our bench's 3)")
    ap.add_argument("--runs", type=int, help="timed runs; the median is reported")
    ap.add_argument("--steps", type=int, help="steps per timed run")
    ap.add_argument("--warmup", type=int, help="untimed steps first, the first step included")
    ap.add_argument("--patchwork", metavar="BIN", help="our binary, to ask it for its parameter count")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("CUDA is not available to this torch")
    device = torch.device(args.device)
    presets = ["small", "full"] if args.preset == "both" else [args.preset]
    for preset in presets if args.model == "mixing-scenes" else [None]:
        print(json.dumps(bench(args, args.model, preset, device)), flush=True)


if __name__ == "__main__":
    main()
