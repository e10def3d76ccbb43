#!/usr/bin/python3
"""The workload of `otsr bench upscale` in PyTorch, for side-by-side ratios (see bench/RESULTS.md).

Same as src/bench/upscale.ts: the real 1024x768 photo assets/demo/hr/dragonfly_by_bolly.png (resized to 1024x768 if
another photo is given), upscaled x4 by the reference EDSR of bench/torch_reference.py (8 blocks x 64 features,
no skip, random weights from torch.manual_seed(1)), tile by tile exactly as otsr's src/upscale/tiles.ts does it:
tiles of 256 input pixels overlapping by 16, one tile per model call, each tile's output weighted by the same
raised-cosine blend and the sum normalised. Timed: tiling, model calls and blend (not decoding). With
torch.set_num_threads(1) and (N). Prints one JSON object:
  { mpps1, mppsN, n, speedup, peakRssMB, seconds, workload, machine, date }
Run with Debian's python3-torch:
  /usr/bin/python3 bench/torch_upscale.py [--threads N] [--repeats 1] [--quick]
"""
import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import time

import numpy as np
import torch
from PIL import Image

from torch_reference import Edsr

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTO = os.path.join(HERE, '..', 'assets', 'demo', 'hr', 'dragonfly_by_bolly.png')


def tile_starts(length, size, overlap):
    """tiles.ts tileStarts: windows of `size` covering `length`, neighbours sharing at least `overlap`."""
    if length <= size:
        return [0]
    count = math.ceil((length - overlap) / (size - overlap))
    # JavaScript's Math.round (half up), not Python's round (half to even).
    return [math.floor(i * (length - size) / (count - 1) + 0.5) for i in range(count)]


def axis_weights(start, size, length, scale, overlap):
    """tiles.ts axisWeights: 1 inside, a raised cosine to 0 towards edges shared with another tile."""
    margin, ramp = overlap / 4, overlap / 2
    left, right = start > 0, start + size < length

    def side(d):
        if d <= margin:
            return 0.0
        if d >= margin + ramp:
            return 1.0
        return 0.5 - 0.5 * math.cos(math.pi * (d - margin) / ramp)

    w = np.empty(size * scale, dtype=np.float32)
    for u in range(size * scale):
        dl = (u + 0.5) / scale
        dr = size - dl
        w[u] = (side(dl) if left else 1.0) * (side(dr) if right else 1.0)
    return torch.from_numpy(w)


@torch.no_grad()
def upscale(model, image, scale, tile, overlap):
    """image: [3, H, W] float in [-1, 1] -> [3, H*scale, W*scale], as tiles.ts with batchSize 1."""
    _, h, w = image.shape
    tw, th = min(tile, w), min(tile, h)
    xs, ys = tile_starts(w, tw, overlap), tile_starts(h, th, overlap)
    wx = {x: axis_weights(x, tw, w, scale, overlap) for x in xs}
    wy = {y: axis_weights(y, th, h, scale, overlap) for y in ys}
    acc = torch.zeros(3, h * scale, w * scale)
    for y in ys:
        for x in xs:
            out = model(image[None, :, y:y + th, x:x + tw])[0]
            acc[:, y * scale:(y + th) * scale, x * scale:(x + tw) * scale] += out * (wy[y][:, None] * wx[x][None, :])
    sx = torch.zeros(w * scale, dtype=torch.float64)
    sy = torch.zeros(h * scale, dtype=torch.float64)
    for x in xs:
        sx[x * scale:(x + tw) * scale] += wx[x].double()
    for y in ys:
        sy[y * scale:(y + th) * scale] += wy[y].double()
    return acc * (1 / (sy[:, None] * sx[None, :])).float()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=min(8, os.cpu_count()))
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--tile', type=int)
    p.add_argument('--overlap', type=int)
    p.add_argument('--image', default=PHOTO)
    p.add_argument('--quick', action='store_true', help='tiny model on a 128x96 resize: a smoke run, not a measurement')
    a = p.parse_args()
    width, height = (128, 96) if a.quick else (1024, 768)
    blocks, feats = (1, 8) if a.quick else (8, 64)
    tile = a.tile or (32 if a.quick else 256)
    overlap = a.overlap if a.overlap is not None else (8 if a.quick else 16)
    scale = 4
    load_before = os.getloadavg()

    img = Image.open(a.image).convert('RGB')
    if img.size != (width, height):
        img = img.resize((width, height), Image.BICUBIC)
    image = torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1).contiguous()
    torch.manual_seed(1)
    model = Edsr(n_blocks=blocks, f=feats, scale=scale).eval()
    megapixels = width * height / 1e6

    counts = [1] if a.threads == 1 else [1, a.threads]
    seconds, cpu = {}, {}
    for n in counts:
        torch.set_num_threads(n)
        upscale(model, image[:, :min(tile, height), :min(tile, width)], scale, tile, overlap)  # warm-up tile
        runs, cpus = [], []
        for _ in range(a.repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            upscale(model, image, scale, tile, overlap)
            runs.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        seconds[n], cpu[n] = runs, statistics.median(cpus)
    one, many = statistics.median(seconds[1]), statistics.median(seconds[counts[-1]])
    n_tiles = len(tile_starts(width, min(tile, width), overlap)) * len(tile_starts(height, min(tile, height), overlap))
    cpu_name = platform.processor()
    try:
        with open('/proc/cpuinfo') as fh:
            cpu_name = next(l.split(':', 1)[1].strip() for l in fh if l.startswith('model name'))
    except (OSError, StopIteration):
        pass
    result = {
        'mpps1': round(megapixels / one, 4),
        'mppsN': round(megapixels / many, 4),
        'n': a.threads,
        'speedup': round(one / many, 2),
        'peakRssMB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        'seconds': {'threads1': [round(s, 3) for s in seconds[1]], 'threadsN': [round(s, 3) for s in seconds[counts[-1]]]},
        'cpuSeconds': {'threads1': round(cpu[1], 3), 'threadsN': round(cpu[counts[-1]], 3)},
        'workload': {'image': os.path.relpath(a.image), 'width': width, 'height': height, 'scale': scale,
                     'model': f'EDSR {blocks}x{feats} x{scale}, no skip, random weights (torch seed 1)',
                     'tile': tile, 'overlap': overlap, 'tiles': n_tiles},
        'machine': {'cpu': cpu_name, 'cores': os.cpu_count(), 'torch': torch.__version__,
                    'loadavgBefore': [round(x, 2) for x in load_before],
                    'loadavgAfter': [round(x, 2) for x in os.getloadavg()]},
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'quick': a.quick,
    }
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
