"""What scripts/npy-quality.py and scripts/npy-seams.py share, and share with no code of the crate: the
Jensen-Shannon divergence of two histograms, and histograms of the rows of an array."""
import numpy as np


def js_bits(p, q):
    """Jensen-Shannon divergence in bits of two histograms given as dicts of counts."""
    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0) for k in keys], dtype=float)
    b = np.array([q.get(k, 0) for k in keys], dtype=float)
    a /= a.sum()
    b /= b.sum()
    m = (a + b) / 2

    def kl(x):
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return max(0.0, (kl(a) + kl(b)) / 2)


def counts(rows):
    """The histogram of the rows of a 2-D array (or a list of equal-length tuples), as a dict of counts."""
    keys, n = np.unique(np.asarray(rows), axis=0, return_counts=True)
    return {tuple(k): int(c) for k, c in zip(keys, n)}
