#!/usr/bin/env python3
"""What a game needs, measured with NumPy on `.npy` files (`bfn-train sample --out X.npy`, `bfn-train data-sheet
--out Y.npy`): the independent check of `bevy_bfn::measure::game_measures`.

  scripts/npy-game.py maps SAMPLES.npy DATA.npy [--walkable 1,3,4,7]   # tile maps: inside, one region, largest
  scripts/npy-game.py images SAMPLES.npy DATA.npy [--k 3]              # precision, recall, neighbour energy
  scripts/npy-game.py heights SAMPLES.npy DATA.npy                     # slope and curvature spread

Maps are class indices [count, height, width]; the walkable classes default to the Crawl legend's floor (1),
door (3), water (4) and stairs (7), and a cell is inside unless it is the legend's outside (0). Images and
heights are compared on the scale the files hold.
"""
import argparse

import numpy as np


def regions(maps, walkable):
    """(share of maps with one walkable region, mean share of walkable cells in the largest)."""
    one, largest = 0, 0.0
    for m in maps:
        open_ = np.isin(m, walkable)
        h, w = open_.shape
        seen = np.zeros_like(open_)
        sizes = []
        for y in range(h):
            for x in range(w):
                if open_[y, x] and not seen[y, x]:
                    stack, size = [(y, x)], 0
                    seen[y, x] = True
                    while stack:
                        cy, cx = stack.pop()
                        size += 1
                        for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                            if 0 <= ny < h and 0 <= nx < w and open_[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                stack.append((ny, nx))
                    sizes.append(size)
        one += len(sizes) <= 1
        largest += max(sizes) / sum(sizes) if sizes else 1.0
    return one / len(maps), largest / len(maps)


def kth(a, b, k, same):
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    if same:
        np.fill_diagonal(d, np.inf)
    return d


def precision_recall(samples, data, k):
    s = samples.reshape(len(samples), -1).astype(np.float64)
    r = data.reshape(len(data), -1).astype(np.float64)
    data_radii = np.sort(kth(r, r, k, True), axis=1)[:, k - 1]
    sample_radii = np.sort(kth(s, s, k, True), axis=1)[:, k - 1]
    precision = (kth(s, r, k, False) <= data_radii[None, :]).any(axis=1).mean()
    recall = (kth(r, s, k, False) <= sample_radii[None, :]).any(axis=1).mean()
    return precision, recall


def energy(images):
    x = images.astype(np.float64)
    if x.ndim == 3:
        x = x[..., None]
    dx = (x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2
    dy = (x[:, 1:, :, :] - x[:, :-1, :, :]) ** 2
    return (dx.sum() + dy.sum()) / (dx.size + dy.size)


def slope_curvature(fields):
    f = fields.astype(np.float64)
    slopes = np.concatenate([np.diff(f, axis=2).ravel(), np.diff(f, axis=1).ravel()])
    lap = f[:, :-2, 1:-1] + f[:, 2:, 1:-1] + f[:, 1:-1, :-2] + f[:, 1:-1, 2:] - 4 * f[:, 1:-1, 1:-1]
    return slopes.std(), lap.std()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["maps", "images", "heights"])
    parser.add_argument("samples")
    parser.add_argument("data")
    parser.add_argument("--walkable", default="1,3,4,7")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    samples, data = np.load(args.samples), np.load(args.data)
    if args.what == "maps":
        walkable = [int(c) for c in args.walkable.split(",")]
        for name, maps in (("samples", samples), ("data", data)):
            one, largest = regions(maps, walkable)
            inside = (maps != 0).mean()
            print(f"{name}: inside {inside:.4f}, one region {one:.4f}, largest region {largest:.4f}")
    elif args.what == "images":
        p, r = precision_recall(samples, data, args.k)
        es, ed = energy(samples), energy(data)
        print(f"precision {p:.4f}, recall {r:.4f}, neighbour energy {es:.6g} against {ed:.6g} ({es / ed:.4f}×)")
    else:
        (ss, cs), (sd, cd) = slope_curvature(samples), slope_curvature(data)
        print(f"slope spread {ss:.6g} against {sd:.6g} ({ss / sd:.4f}×), "
              f"curvature spread {cs:.6g} against {cd:.6g} ({cs / cd:.4f}×)")


if __name__ == "__main__":
    main()
