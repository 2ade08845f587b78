#!/usr/bin/env python3
"""Whether a conditional digits model draws the digit asked for, judged by a classifier that is not ours.

    scripts/digits-classifier.py [--model M] [--guidance W] [--count N] [--bfn-train BIN] [--dir DIR]

Trains scikit-learn's support vector classifier (RBF kernel, gamma 0.001, C 10) on rows 0..1500 of
`sklearn.datasets.load_digits` -- the rows the model trained on, the same file the crate embeds -- and reports its
accuracy on the held-out rows 1500..1797 as the classifier's own ceiling. Then, for each digit D, draws N samples
with `bfn-train sample --class D --guidance W --count N --out DIR/D.npy` (seed D) and reports the share the
classifier calls D, and the share of distinct samples (the images as 0..16 levels, compared exactly).

The .npy arrays hold levels on 0-255 (level k of 17 at 255*k/16), mapped back to the data's 0..16 here.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.svm import SVC

TRAIN_ROWS = 1500


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="assets/models/digits-conditional.safetensors")
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--bfn-train", default="target/release/bfn-train")
    parser.add_argument("--dir", default="target/digits-classifier")
    args = parser.parse_args()

    digits = load_digits()
    x, y = digits.data, digits.target
    classifier = SVC(gamma=0.001, C=10.0).fit(x[:TRAIN_ROWS], y[:TRAIN_ROWS])
    held_out = float(np.mean(classifier.predict(x[TRAIN_ROWS:]) == y[TRAIN_ROWS:]))
    print(f"classifier on the held-out rows {TRAIN_ROWS}..{len(y)}: {100 * held_out:.1f}%")

    os.makedirs(args.dir, exist_ok=True)
    print(f"\n{args.count} samples a digit, guidance {args.guidance}\n")
    print("| digit | classified as asked | distinct |")
    print("|---|---|---|")
    accuracies, distinct = [], []
    for digit in range(10):
        out = os.path.join(args.dir, f"{digit}.npy")
        subprocess.run(
            [args.bfn_train, "sample", "--model", args.model, "--class", str(digit),
             "--guidance", str(args.guidance), "--count", str(args.count), "--seed", str(digit),
             "--out", out],
            check=True, stderr=subprocess.DEVNULL)
        samples = np.load(out).reshape(args.count, -1)
        levels = np.rint(samples / 255.0 * 16.0)
        accuracies.append(float(np.mean(classifier.predict(levels) == digit)))
        distinct.append(len({row.tobytes() for row in levels.astype(np.uint8)}) / args.count)
        print(f"| {digit} | {100 * accuracies[-1]:.1f}% | {100 * distinct[-1]:.1f}% |")
    print(f"| mean | {100 * np.mean(accuracies):.1f}% | {100 * np.mean(distinct):.1f}% |")
    passed = np.mean(accuracies) >= 0.9 and min(distinct) >= 0.9
    print(f"\ntarget (mean >= 90% classified as asked, every digit >= 90% distinct): "
          f"{'met' if passed else 'NOT met'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
