#!/usr/bin/env python3
"""PatchVAE training throughput in PyTorch eager, for a side-by-side comparison with
`patchwork bench --model patchvae` (same architecture and parameter counts, batch, image
size, Adam, synthetic inputs; median of several timed runs after warm-up).

    python3 scripts/pytorch-patchvae-bench.py --threads 2 --runs 5 --steps 3 --warmup 2

Prints one JSON object. Needs `torch` (pip install torch); nothing else.
"""
import argparse, json, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = PatchVae()
    enc = sum(p.numel() for m in (model.backbone, model.occ, model.mu, model.logvar) for p in m.parameters())
    dec = sum(p.numel() for p in model.dec.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        model.loss(x).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.runs):
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.batch * a.steps / (time.perf_counter() - t))
    print(json.dumps({"framework": f"torch {torch.__version__} eager, {a.threads} threads", "encoder_params": enc, "decoder_params": dec,
                      "batch": a.batch, "size": a.size, "train_images_per_sec": statistics.median(rates), "runs": [round(r, 1) for r in rates]}))


if __name__ == "__main__":
    main()
