#!/usr/bin/env python3
"""An independent check of `bfn-train quality`: the same distances, computed with NumPy from the .npy files that
`bfn-train sample --out X.npy` and `bfn-train data-sheet --out Y.npy` write, sharing no code with the crate.

    scripts/npy-quality.py SAMPLES.npy HELD_OUT.npy [MORE_SAMPLES.npy ...]

Integer arrays (classes): the Jensen-Shannon divergence (bits) of 2x2 class patterns for maps [count, h, w], of
bigrams for sequences [count, length], and of the class frequencies. Float arrays (values): the Frechet distance of
the raw vectors, taken in the model's units [-1, 1] for sprites and digits (levels on 0-255 are mapped back) and
in standard units of the held-out data for terrain (metres would weigh the distance by the data's spread), and the
divergence of 64-bin value histograms. `bfn-train quality` measures in model units throughout, so the Frechet
distances agree with it for images and differ from it by the held-out spread for heights; the ranking of samplers
is what is compared.
"""
import sys

import numpy as np

from npy_divergence import counts, js_bits


def patterns(a):
    if a.ndim == 2:  # sequences: bigrams
        return counts(np.stack([a[:, :-1].ravel(), a[:, 1:].ravel()], axis=1))
    return counts(np.stack([a[:, :-1, :-1].ravel(), a[:, :-1, 1:].ravel(),
                            a[:, 1:, :-1].ravel(), a[:, 1:, 1:].ravel()], axis=1))


def frechet(x, y):
    mx, my = x.mean(0), y.mean(0)
    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    roots = np.sqrt(np.clip(np.linalg.eigvals(cx @ cy).real, 0, None))
    return float(np.sum((mx - my) ** 2) + np.trace(cx) + np.trace(cy) - 2 * roots.sum())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    held_out = np.load(sys.argv[2])
    for path in [sys.argv[1]] + sys.argv[3:]:
        samples = np.load(path)
        if samples.dtype.kind in "ui":
            frequency = js_bits(counts(samples.reshape(-1, 1)), counts(held_out.reshape(-1, 1)))
            print(f"{path}: patterns {js_bits(patterns(samples), patterns(held_out)):.4f} bits, "
                  f"frequencies {frequency:.4f} bits")
        else:
            if held_out.max() > 1.5 and held_out.min() >= 0 and held_out.max() <= 255:
                scale = lambda v: v / 127.5 - 1  # levels on the sheets' 0-255 scale
            else:
                mean, std = held_out.mean(), held_out.std()
                scale = lambda v: (v - mean) / std
            x = scale(samples.reshape(len(samples), -1).astype(float))
            y = scale(held_out.reshape(len(held_out), -1).astype(float))
            bins = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()), 65)
            hx, _ = np.histogram(x, bins)
            hy, _ = np.histogram(y, bins)
            frequency = js_bits(dict(enumerate(hx)), dict(enumerate(hy)))
            print(f"{path}: frechet {frechet(x, y):.4f}, frequencies {frequency:.4f} bits")


if __name__ == "__main__":
    main()
