#!/usr/bin/python3
"""The workloads of `otsr bench train` in PyTorch, for side-by-side ratios (see bench/RESULTS.md).

Same architectures, shapes, losses and optimizer as src/bench/train.ts and src/bench/train-tasks.ts:
  - reference step: EDSR 8 blocks x 64 features, x4, LR 24x24 -> HR 96x96, batch 8, L1 loss, Adam 1e-4;
  - OTS iteration: 10 map steps (0.5*MSE to bicubic U(x) minus f(T(x)); EDSR with a bicubic skip) + 1 potential
    step (f(T(x)) - f(y)), the ResNet critic (64 features up to 512, two blocks per resolution, avg pool 3/2/1)
    at 96x96, batch 8, Adam 1e-4 on both.
Each with torch.set_num_threads(1) and (N). Prints one JSON object. Run with Debian's python3-torch:
  /usr/bin/python3 bench/torch_reference.py [--threads N] [--steps 5] [--iters 1] [--no-ots]
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.c1 = nn.Conv2d(f, f, 3, padding=1)
        self.c2 = nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):
        return x + self.c2(F.relu(self.c1(x)))


class Edsr(nn.Module):
    def __init__(self, n_blocks=8, f=64, scale=4, skip=False):
        super().__init__()
        self.scale, self.skip = scale, skip
        self.head = nn.Conv2d(3, f, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(f) for _ in range(n_blocks)])
        self.body_conv = nn.Conv2d(f, f, 3, padding=1)
        ups = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(f, 4 * f, 3, padding=1), nn.PixelShuffle(2)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(f, 3, 3, padding=1)

    def forward(self, x):
        h0 = self.head(x)
        h = self.body_conv(self.body(h0)) + h0
        y = self.tail(self.up(h))
        if self.skip:
            y = y + F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)
        return y


class CriticBlock(nn.Module):
    def __init__(self, fin, fout, res_ratio=0.1):
        super().__init__()
        hidden = min(fin, fout)
        self.c0 = nn.Conv2d(fin, hidden, 3, padding=1)
        self.c1 = nn.Conv2d(hidden, fout, 3, padding=1)
        self.shortcut = nn.Conv2d(fin, fout, 1, bias=False) if fin != fout else None
        self.res_ratio = res_ratio

    def forward(self, x):
        xs = self.shortcut(x) if self.shortcut is not None else x
        dx = self.c1(F.leaky_relu(self.c0(x), 0.2))
        return F.leaky_relu(xs + self.res_ratio * dx, 0.2)


class Critic(nn.Module):
    """The ResNet critic of src/nn/critic.ts (WGAN-QC's, as used by the OT-SR paper)."""

    def __init__(self, size=96, nf=64, max_f=512):
        super().__init__()
        n_layers = int(math.floor(math.log2(size / 4)))
        self.conv_img = nn.Conv2d(3, nf, 3, padding=1)
        stages = []
        side = size
        for i in range(n_layers + 1):
            if i > 0:
                side = (side - 1) // 2 + 1
            f0 = min(nf * 2 ** i, max_f)
            f1 = min(nf * 2 ** (i + 1), max_f)
            stages.append(nn.Sequential(CriticBlock(f0, f0), CriticBlock(f0, f1)))
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(side * side * min(nf * 2 ** (n_layers + 1), max_f), 1)

    def forward(self, x):
        y = F.leaky_relu(self.conv_img(x), 0.2)
        for i, stage in enumerate(self.stages):
            if i > 0:
                y = F.avg_pool2d(y, 3, 2, 1, count_include_pad=True)
            y = stage(y)
        return self.fc(y.flatten(1)).view(-1)


def timed(fn, reps):
    """Wall and process CPU milliseconds of each of `reps` calls."""
    out = []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        out.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    return out


def ref_step_ms(steps):
    torch.manual_seed(1)
    model = Edsr()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    lr = torch.randn(8, 3, 24, 24) * 0.5
    hr = torch.randn(8, 3, 96, 96) * 0.5

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(lr) - hr).abs().mean()
        loss.backward()
        opt.step()
        loss.item()

    timed(step, 2)
    return timed(step, steps)


def ots_iter_ms(iters):
    torch.manual_seed(1)
    T = Edsr(skip=True)
    f = Critic(96)
    opt_t = torch.optim.Adam(T.parameters(), lr=1e-4)
    opt_f = torch.optim.Adam(f.parameters(), lr=1e-4)
    xs = [torch.randn(8, 3, 24, 24) * 0.5 for _ in range(10)]
    y = torch.randn(8, 3, 96, 96) * 0.5

    def map_step(x):
        f.requires_grad_(False)
        opt_t.zero_grad(set_to_none=True)
        tx = T(x)
        u = F.interpolate(x, scale_factor=4, mode='bicubic', align_corners=False)
        cost = 0.5 * ((u - tx) ** 2).mean()
        loss = cost - f(tx).mean()
        loss.backward()
        opt_t.step()
        f.requires_grad_(True)
        loss.item()

    def potential_step(x):
        opt_f.zero_grad(set_to_none=True)
        with torch.no_grad():
            tx = T(x)
        loss = f(tx).mean() - f(y).mean()
        loss.backward()
        opt_f.step()
        loss.item()

    map_step(xs[0])
    potential_step(xs[0])

    def iteration():
        for x in xs:
            map_step(x)
        potential_step(xs[0])

    return timed(iteration, iters)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--iters', type=int, default=1)
    p.add_argument('--no-ots', action='store_true')
    a = p.parse_args()
    counts = [1] if a.threads == 1 else [1, a.threads]
    load_before = os.getloadavg()

    def timing(fn, reps):
        runs = []
        for n in counts:
            torch.set_num_threads(n)
            runs.append(fn(reps))
        wall = [[w for w, _ in r] for r in runs]
        cpu = [statistics.median([c for _, c in r]) for r in runs]
        one, many = statistics.median(wall[0]), statistics.median(wall[-1])
        return {'threads1': round(one, 1), 'threadsN': round(many, 1), 'n': a.threads, 'speedup': round(one / many, 2),
                'allMs': {'threads1': [round(x, 1) for x in wall[0]], 'threadsN': [round(x, 1) for x in wall[-1]]},
                'cpuMs': {'threads1': round(cpu[0], 1), 'threadsN': round(cpu[-1], 1)}}

    result = {'refStep': timing(ref_step_ms, a.steps)}
    if not a.no_ots:
        result['otsIter'] = timing(ots_iter_ms, a.iters)
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as fh:
            cpu = next(l.split(':', 1)[1].strip() for l in fh if l.startswith('model name'))
    except (OSError, StopIteration):
        pass
    result['machine'] = {'cpu': cpu, 'cores': os.cpu_count(), 'torch': torch.__version__,
                         'loadavgBefore': [round(x, 2) for x in load_before],
                         'loadavgAfter': [round(x, 2) for x in os.getloadavg()]}
    result['date'] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
