#!/usr/bin/env python3
"""How symmetric the dungeon maps on sample or data sheets are: a number for what the eye sees in them.

For each map (16 x 16 tiles, read off a sheet that `bfn-train sample` or `bfn-train data-sheet` wrote for the
dungeon model: 4 pixels a tile, 66-pixel cells, 8 a row), the share of its non-outside tiles that equal their
image under the best of four mirrors (left-right, up-down, half turn, transpose); then the mean and median over the
sheet and the share of maps that are exactly symmetric. Vault maps are drawn symmetric far more often than chance.

Usage: python3 scripts/map-symmetry.py SHEET.png [...]   (needs Pillow: pip install pillow)
"""
import sys
from PIL import Image
def maps(path):
    im = Image.open(path).convert('RGB'); W, H = im.size; px = im.load()
    out = []
    for r in range((H - 2) // 66):
        for c in range(8):
            x0, y0 = 2 + c * 66, 2 + r * 66
            g = [[px[x0 + 4 * j + 1, y0 + 4 * i + 1] for j in range(16)] for i in range(16)]
            if all(v == g[0][0] for row in g for v in row) and g[0][0] == (40, 40, 48):
                continue
            out.append(g)
    return out
OUT = (16, 16, 16)
ops = {
    'lr': lambda g, i, j: g[i][15 - j],
    'ud': lambda g, i, j: g[15 - i][j],
    'rot180': lambda g, i, j: g[15 - i][15 - j],
    'transpose': lambda g, i, j: g[j][i],
}
def score(g):
    cells = [(i, j) for i in range(16) for j in range(16) if g[i][j] != OUT]
    if not cells:
        return 1.0
    return max(sum(g[i][j] == f(g, i, j) for i, j in cells) / len(cells) for f in ops.values())
for path in sys.argv[1:]:
    ms = maps(path); s = sorted(score(g) for g in ms)
    exact = sum(v == 1.0 for v in s) / len(s)
    print(f"{path}: {len(ms)} maps, best-mirror agreement mean {sum(s)/len(s):.3f} median {s[len(s)//2]:.3f}, exactly symmetric {exact:.2f}")
