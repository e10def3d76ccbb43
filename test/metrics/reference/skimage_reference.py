#!/usr/bin/env python3
"""Reference PSNR/SSIM numbers from an independent implementation (scikit-image), for test/metrics/quality.test.ts.

Run with Debian's Python (apt-get install python3-skimage python3-pil):

    /usr/bin/python3 test/metrics/reference/skimage_reference.py /work/shared/data/unpaired-x4

It (re)creates the small fixture images in test/fixtures/metrics/ from the unpaired-x4 validation photos
(OpenCV sample data: building, eagle is from darknet; see that data set's README for licences) and writes
test/fixtures/metrics/skimage-reference.json with skimage's numbers under otsr's protocol: values in
[0, 255], `border` pixels cropped from each side, RGB channels (no Y), SSIM with an 11x11 Gaussian window
(sigma 1.5, truncate 3.5), K1 0.01, K2 0.03, population covariances, averaged over channels.
"""
import json
import os
import sys

import numpy as np
import scipy
import skimage
from PIL import Image, ImageFilter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.normpath(os.path.join(here, '..', '..', 'fixtures', 'metrics'))
data = sys.argv[1] if len(sys.argv) > 1 else '/work/shared/data/unpaired-x4'


def save(im, name):
    im.save(os.path.join(out_dir, name), optimize=True)


# Pair 1, a realistic x4 evaluation: a ground-truth crop and PIL's bicubic x4 of the matching degraded LR crop.
lr = Image.open(os.path.join(data, 'val/lr/building.jpg')).convert('RGB')
hr = Image.open(os.path.join(data, 'val/hr/building.png')).convert('RGB')
box = (40, 30, 88, 70)  # LR pixels: 48 x 40
save(hr.crop(tuple(4 * v for v in box)), 'building-hr.png')
save(lr.crop(box).resize((192, 160), Image.BICUBIC), 'building-bicubic.png')

# Pair 2: an odd-sized crop and a blurred, noisy copy (seeded).
eagle = Image.open(os.path.join(data, 'val/hr/eagle.png')).convert('RGB').crop((300, 150, 451, 281))  # 151 x 131
save(eagle, 'eagle-hr.png')
rng = np.random.default_rng(7)
noisy = np.asarray(eagle.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float64) + rng.normal(0, 10, (131, 151, 3))
save(Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8)), 'eagle-noisy.png')

# Pair 3: grey versions of pair 1 (one channel).
save(Image.open(os.path.join(out_dir, 'building-hr.png')).convert('L'), 'building-hr-grey.png')
save(Image.open(os.path.join(out_dir, 'building-bicubic.png')).convert('L'), 'building-bicubic-grey.png')

pairs = [('building-hr.png', 'building-bicubic.png'), ('eagle-hr.png', 'eagle-noisy.png'),
         ('building-hr-grey.png', 'building-bicubic-grey.png')]
results = []
for a_name, b_name in pairs:
    a = np.asarray(Image.open(os.path.join(out_dir, a_name)))
    b = np.asarray(Image.open(os.path.join(out_dir, b_name)))
    for border in (0, 4):
        ca = a[border:a.shape[0] - border, border:a.shape[1] - border]
        cb = b[border:b.shape[0] - border, border:b.shape[1] - border]
        kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        if ca.ndim == 3:
            kw['channel_axis'] = -1
        results.append({
            'a': a_name, 'b': b_name, 'border': border,
            'psnr': float(peak_signal_noise_ratio(ca, cb, data_range=255)),
            'ssim': float(structural_similarity(ca, cb, **kw)),
        })

with open(os.path.join(out_dir, 'skimage-reference.json'), 'w') as f:
    json.dump({'generator': 'test/metrics/reference/skimage_reference.py',
               'versions': {'scikit-image': skimage.__version__, 'scipy': scipy.__version__, 'numpy': np.__version__},
               'results': results}, f, indent=2)
    f.write('\n')
print(json.dumps(results, indent=2))
