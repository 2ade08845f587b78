#!/usr/bin/env python3
"""An independent check of `bfn-train seams`, from the .npy files `bfn-train` writes, sharing no code with the crate.

    scripts/npy-seams.py halves CHOSEN.npy HALVES.npy [COMPLETIONS]
        Writes the known values that keep the left half of each map of CHOSEN.npy ([N, h, w] classes, as
        `data-sheet --count N` writes them) and leave the right half free (-1), each map COMPLETIONS times in a
        row (1 by default), for `sample --known HALVES.npy --count N*COMPLETIONS` (`seams --completions`).

    scripts/npy-seams.py measure HELD.npy CHOSEN.npy INPAINTED.npy UNCONDITIONAL.npy MOSAIC.npy TILEABLE.npy
        HELD: the whole held-out split (`data-sheet --out`); INPAINTED: `sample --known HALVES.npy --count N`;
        UNCONDITIONAL: `sample --count N` of the same seed; MOSAIC and TILEABLE: `sample --size WxH [--tileable]`.
        Prints the divergences of the boundary patterns (inpainted, unconditional, CHOSEN's own right halves) and
        the share of them that occur nowhere in HELD, and the divergences of the patterns across and inside mosaic
        windows, as `bfn-train seams` does.

Everything is Jensen-Shannon in bits of 2x2 class-pattern histograms against all 2x2 patterns of HELD. The mosaic's
windows are rebuilt from the rule in docs/control.md: a canvas of c = 16 cells, stride s = c/2; along an axis of
length L, windows start at 0, s, 2s, ... while start + c < L (the first always), then, without wrapping, one at
L - c if the last ends before L, or, wrapping, one centred on the remaining gap: ((end + (L - end)//2) - c//2) mod L.
Windows go in raster order (rows of windows top to bottom, each left to right), and a cell belongs to the first
window that covers it. A pattern is across a seam if its four cells have more than one owner. The larger of the
two sets is cut to the smaller's size m by taking item floor(i*len/m) for i < m, in example-major raster order.
The canvas crops are c x c crops every c/4 cells (wrapping on a tileable map): a crop whose corner is a window's is
that window's canvas, the others straddle windows; their patterns are compared the same way.
"""
import sys

import numpy as np

from npy_divergence import counts, js_bits

CANVAS = 16


def all_patterns(a):
    return np.stack([a[:, :-1, :-1].ravel(), a[:, :-1, 1:].ravel(),
                     a[:, 1:, :-1].ravel(), a[:, 1:, 1:].ravel()], axis=1)


def starts(length, canvas, stride, wrap):
    s = [0]
    while s[-1] + stride + canvas < length:
        s.append(s[-1] + stride)
    end = s[-1] + canvas
    if wrap:
        s.append((end + (length - end) // 2 + length - canvas // 2) % length)
    elif end < length:
        s.append(length - canvas)
    return s


def owners(height, width, wrap):
    owner = -np.ones((height, width), dtype=int)
    index = 0
    for y in starts(height, CANVAS, CANVAS // 2, wrap):
        for x in starts(width, CANVAS, CANVAS // 2, wrap):
            rows = [(y + r) % height for r in range(CANVAS)]
            cols = [(x + c) % width for c in range(CANVAS)]
            block = owner[np.ix_(rows, cols)]
            block[block < 0] = index
            owner[np.ix_(rows, cols)] = block
            index += 1
    assert (owner >= 0).all()
    return owner


def spread(items, m):
    return [items[i * len(items) // m] for i in range(m)]


def mosaic(maps, reference, wrap):
    n, height, width = maps.shape
    owner = owners(height, width, wrap)
    across, inside = [], []
    extra = 1 if wrap else 0
    for e in range(n):
        for r in range(height - 1 + extra):
            for c in range(width - 1 + extra):
                cells = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
                cells = [(y % height, x % width) for y, x in cells]
                pattern = tuple(int(maps[e, y, x]) for y, x in cells)
                if len({owner[y, x] for y, x in cells}) == 1:
                    inside.append(pattern)
                else:
                    across.append(pattern)
    m = min(len(across), len(inside))
    return js_bits(counts(spread(across, m)), reference), js_bits(counts(spread(inside, m)), reference), m


def crops(maps, reference, wrap):
    """Canvas-sized crops every quarter canvas: those that are a window against those that straddle windows."""
    n, height, width = maps.shape
    step = CANVAS // 4
    windows = {(x, y) for y in starts(height, CANVAS, CANVAS // 2, wrap)
               for x in starts(width, CANVAS, CANVAS // 2, wrap)}
    last = lambda length: length - 1 if wrap else length - CANVAS
    aligned, straddling = [], []
    for y in range(0, last(height) + 1, step):
        for x in range(0, last(width) + 1, step):
            rows = [(y + r) % height for r in range(CANVAS)]
            cols = [(x + c) % width for c in range(CANVAS)]
            patterns = all_patterns(maps[:, rows][:, :, cols])
            (aligned if (x, y) in windows else straddling).append(patterns)
    # Example-major raster order, as the crate lists them.
    order = lambda sets: [tuple(int(v) for v in p) for e in range(n) for s in sets
                          for p in s.reshape(n, -1, 4)[e]]
    straddling, aligned = order(straddling), order(aligned)
    m = min(len(straddling), len(aligned))
    return (js_bits(counts(spread(straddling, m)), reference), js_bits(counts(spread(aligned, m)), reference), m)


def main():
    if len(sys.argv) in (4, 5) and sys.argv[1] == "halves":
        chosen = np.load(sys.argv[2]).astype(np.int32)
        chosen[:, :, chosen.shape[2] // 2:] = -1
        completions = int(sys.argv[4]) if len(sys.argv) == 5 else 1
        np.save(sys.argv[3], np.repeat(chosen, completions, axis=0))
        return
    if len(sys.argv) != 8 or sys.argv[1] != "measure":
        sys.exit(__doc__)
    held, chosen, inpainted, unconditional, plain, tileable = (np.load(p) for p in sys.argv[2:])
    reference = counts(all_patterns(held))
    half = held.shape[2] // 2
    completions = len(inpainted) // len(chosen)
    kept = (inpainted[:, :, :half] == np.repeat(chosen, completions, axis=0)[:, :, :half]).mean()
    print(f"left halves kept: {100 * kept:.2f}% of {inpainted[:, :, :half].size} cells")
    boundary = lambda a: all_patterns(a[:, :, half - 1:half + 1])
    seen = {tuple(int(v) for v in p) for p in all_patterns(held)}
    unseen = lambda a: 100 * np.mean([tuple(int(v) for v in p) not in seen for p in boundary(a)])
    js = [js_bits(counts(boundary(a)), reference) for a in (inpainted, unconditional, chosen)]
    print(f"half inpainting: {len(chosen)} maps x {completions}, {len(boundary(inpainted))} boundary patterns; "
          f"unseen in the data: inpainted {unseen(inpainted):.2f}%, unconditional {unseen(unconditional):.2f}%, "
          f"true {unseen(chosen):.2f}%; JS inpainted {js[0]:.4f}, unconditional {js[1]:.4f}, true {js[2]:.4f}, "
          f"inpainted / true {js[0] / js[2]:.3f}")
    for name, maps, wrap in [("mosaic", plain, False), ("tileable", tileable, True)]:
        across, inside, m = mosaic(maps, reference, wrap)
        print(f"{name} {maps.shape[2]}x{maps.shape[1]}: {m} patterns each, across {across:.4f}, "
              f"inside {inside:.4f}, ratio {across / inside:.3f}")
        across, inside, m = crops(maps, reference, wrap)
        print(f"{name} {maps.shape[2]}x{maps.shape[1]} canvas crops: {m} patterns each, straddling {across:.4f}, "
              f"windows {inside:.4f}, ratio {across / inside:.3f}")


if __name__ == "__main__":
    main()
