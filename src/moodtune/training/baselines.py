"""The classical baselines of the papers: SVM, k-NN, Random Forest and Gaussian Naive Bayes on
HOG and LBP features, trained on FER2013 Training and scored on PrivateTest.

Sized for a small CPU (the whole set runs in a few minutes on 2 cores):

- **HOG**: 9 orientations, 8x8-pixel cells, 2x2-cell blocks (L2-Hys) on the 48x48 face: 900 values;
- **LBP**: uniform 8-neighbour radius-1 patterns (10 codes), one histogram per 8x8 cell: 360 values;
- **SVM**: an RBF kernel on all of Training is ~10^4 s here, so the kernel is approximated
  (Nystroem, ``SVM_COMPONENTS`` landmarks) and a linear SVM is fitted on all faces; the exact-RBF
  variant ``svm_rbf_subsample`` fits ``libsvm`` on a seeded subsample instead. Both budgets are
  printed in the ``budget`` of each result.

No hyper-parameter was tuned on PrivateTest; they are fixed below (and reported).

    python -m moodtune.training.baselines [--only knn,naive_bayes] [--train-limit N] [--test-limit N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from moodtune.emotion.labels import CLASSES
from moodtune.training.data import FerData, load, train_test_duplicates
from moodtune.training.metrics import Scores, score

HOG = {"orientations": 9, "pixels_per_cell": (8, 8), "cells_per_block": (2, 2), "block_norm": "L2-Hys"}
LBP: dict[str, Any] = {"P": 8, "R": 1, "method": "uniform", "cell": 8}
SVM_COMPONENTS = 2000
SVM_SUBSAMPLE = 8000
#: Bump when features or estimators change: cached results of an older version are recomputed.
VERSION = 1


@dataclass(frozen=True)
class Baseline:
    """One classical model: ``build(seed, n_train)`` returns an unfitted scikit-learn estimator
    (``n_train`` only caps sizes that cannot exceed the sample count, for small smoke runs)."""

    key: str
    algorithm: str
    features: str  # "hog", "lbp" or "hog+lbp"
    build: Callable[[int, int], Any]
    params: str  # the fixed hyper-parameters, for the table
    max_train: int | None = None  # fit on a seeded subsample of at most this many Training faces


def _pipeline(*steps):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*steps)


def _naive_bayes(seed: int, n: int):
    from sklearn.decomposition import PCA
    from sklearn.naive_bayes import GaussianNB
    from sklearn.preprocessing import StandardScaler

    return _pipeline(StandardScaler(), PCA(min(100, n), random_state=seed), GaussianNB())


def _knn(seed: int, n: int):
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    return _pipeline(StandardScaler(), PCA(min(150, n), random_state=seed), KNeighborsClassifier(min(10, n), weights="distance"))


def _random_forest(seed: int, n: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=_threads(), random_state=seed)


def _svm_nystroem(seed: int, n: int):
    from sklearn.kernel_approximation import Nystroem
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return _pipeline(StandardScaler(), Nystroem(kernel="rbf", gamma=1 / 1260, n_components=min(SVM_COMPONENTS, n), random_state=seed),
                     LinearSVC(C=1.0, dual=False, random_state=seed))


def _svm_rbf(seed: int, n: int):
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return _pipeline(StandardScaler(), SVC(C=10.0, kernel="rbf", gamma="scale", random_state=seed))


BASELINES: dict[str, Baseline] = {
    b.key: b
    for b in (
        Baseline("naive_bayes", "Gaussian Naive Bayes", "hog+lbp", _naive_bayes, "standardised, PCA 100"),
        Baseline("knn", "k-NN", "hog+lbp", _knn, "standardised, PCA 150, k=10, distance-weighted"),
        Baseline("random_forest", "Random Forest", "hog+lbp", _random_forest, "100 trees, sqrt features"),
        Baseline("svm", "SVM (RBF kernel, Nystroem approximation)", "hog+lbp", _svm_nystroem,
                 f"standardised, {SVM_COMPONENTS} Nystroem landmarks, gamma 1/1260, linear SVM C=1, all Training"),
        Baseline("svm_rbf_subsample", "SVM (exact RBF kernel, subsample)", "hog+lbp", _svm_rbf,
                 "standardised, libsvm C=10, gamma 'scale', seeded Training subsample", max_train=SVM_SUBSAMPLE),
    )
}


@dataclass
class BaselineResult:
    """Scores of one baseline on ``split``: all faces, and faces whose pixels do not occur in Training."""

    key: str
    algorithm: str
    features: str
    params: str
    split: str
    full: Scores
    dedup: Scores
    n_train: int
    fit_seconds: float
    predict_seconds: float
    feature_seconds: float
    hardware: str
    seed: int

    @property
    def minutes(self) -> float:
        return (self.fit_seconds + self.predict_seconds + self.feature_seconds) / 60

    @property
    def budget(self) -> str:
        return (f"{self.n_train} Training faces, {self.params}; {self.hardware}; fit {self.fit_seconds:.0f} s, "
                f"predict {self.predict_seconds:.0f} s, features {self.feature_seconds:.0f} s")

    def to_json(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("full", "dedup")}
        for name in ("full", "dedup"):
            s = getattr(self, name)
            d[name] = {"confusion": s.confusion.tolist(), **s.summary()}
        return d

    @classmethod
    def from_json(cls, d: dict) -> BaselineResult:
        kw = {k: v for k, v in d.items() if k not in ("full", "dedup")}
        # Scores are recomputed from the stored confusion matrices: no rounding drift.
        for name in ("full", "dedup"):
            cm = np.asarray(d[name]["confusion"], np.int64)
            kw[name] = _scores_from_confusion(cm)
        return cls(**kw)


def _scores_from_confusion(cm: np.ndarray) -> Scores:
    true = np.repeat(np.arange(len(cm)), cm.sum(1))
    pred = np.concatenate([np.repeat(np.arange(len(cm)), row) for row in cm]) if cm.sum() else np.zeros(0, np.int64)
    return score(true, pred, len(cm))


def _threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS")
    return int(env) if env and env.isdigit() else (os.cpu_count() or 1)


def hardware() -> str:
    """E.g. "Intel(R) Xeon(R) Platinum 8481C CPU, 2 threads" (the CPU model where Linux tells it)."""
    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return f"{name}{'' if 'CPU' in name else ' CPU'}, {_threads()} threads"


# --- features ------------------------------------------------------------------------------------


def hog_features(images: np.ndarray) -> np.ndarray:
    """HOG descriptors (N, 900) float32 of uint8 faces (N, 48, 48) (``HOG`` parameters)."""
    from skimage.feature import hog

    if len(images) == 0:
        return np.zeros((0, 0), np.float32)
    return np.stack([hog(im, feature_vector=True, **HOG) for im in images]).astype(np.float32)


def lbp_features(images: np.ndarray) -> np.ndarray:
    """Per-cell histograms of uniform LBP codes, (N, cells * (P + 2)) float32, each cell summing to 1."""
    from skimage.feature import local_binary_pattern

    images = np.asarray(images)
    n, h, w = images.shape
    bins, cell = LBP["P"] + 2, LBP["cell"]
    gy, gx = h // cell, w // cell
    if n == 0:
        return np.zeros((0, gy * gx * bins), np.float32)
    codes = np.stack([local_binary_pattern(im, LBP["P"], LBP["R"], method=LBP["method"]) for im in images]).astype(np.int64)
    codes = codes[:, : gy * cell, : gx * cell]
    cell_id = (np.arange(gy * cell)[:, None] // cell) * gx + np.arange(gx * cell)[None, :] // cell
    idx = (np.arange(n)[:, None, None] * (gy * gx) + cell_id[None]) * bins + codes
    hist = np.bincount(idx.ravel(), minlength=n * gy * gx * bins).reshape(n, gy * gx * bins)
    return (hist / float(cell * cell)).astype(np.float32)


def features(images: np.ndarray, kind: str) -> np.ndarray:
    """``kind``: "hog", "lbp" or "hog+lbp" (concatenated)."""
    parts = {"hog": hog_features, "lbp": lbp_features}
    try:
        return np.hstack([parts[k](images) for k in kind.split("+")])
    except KeyError:
        raise ValueError(f"unknown features {kind!r}; expected hog, lbp or hog+lbp") from None


# --- running -------------------------------------------------------------------------------------


def run_baselines(data: FerData | None = None, keys: list[str] | None = None, split: str = "PrivateTest",
                  train_limit: int | None = None, test_limit: int | None = None, seed: int = 0,
                  log: Callable[[str], None] | None = print) -> list[BaselineResult]:
    """Fit each baseline in ``keys`` (default: all of ``BASELINES``) on Training and score it on ``split``.

    ``train_limit`` / ``test_limit`` use seeded random subsets (smoke tests); duplicates are
    always judged against the whole Training split.
    """
    from moodtune.errors import MoodtuneError

    keys = list(keys or BASELINES)
    unknown = [k for k in keys if k not in BASELINES]
    if unknown:
        raise MoodtuneError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}")
    data = data if data is not None else load(ferplus=None)
    train, test = data.subset("Training"), data.subset(split)
    if len(train) == 0 or len(test) == 0:
        raise MoodtuneError(f"baselines need Training and {split} faces; got {len(train)} and {len(test)}")
    dups = train_test_duplicates(data, split)
    if train_limit:
        train = train.sample(train_limit, seed)
    if test_limit:
        keep = np.sort(np.random.default_rng(seed).permutation(len(test))[:test_limit])
        test, dups = FerData(test.images[keep], test.labels[keep], test.splits[keep], test.rows[keep]), dups[keep]

    say = log or (lambda _: None)
    feats: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    results = []
    for key in keys:
        b = BASELINES[key]
        if b.features not in feats:
            t0 = time.perf_counter()
            say(f"features {b.features}: {len(train)} Training + {len(test)} {split} faces ...")
            feats[b.features] = (features(train.images, b.features), features(test.images, b.features), time.perf_counter() - t0)
        x_tr, x_te, feat_s = feats[b.features]
        y_tr = train.labels
        if b.max_train and len(y_tr) > b.max_train:
            sub = np.sort(np.random.default_rng(seed).permutation(len(y_tr))[: b.max_train])
            x_tr, y_tr = x_tr[sub], y_tr[sub]
        say(f"{b.algorithm} on {b.features}: fitting on {len(y_tr)} faces ...")
        est = b.build(seed, len(y_tr))
        t0 = time.perf_counter()
        est.fit(x_tr, y_tr)
        t1 = time.perf_counter()
        pred = np.asarray(est.predict(x_te), np.int64)
        t2 = time.perf_counter()
        full, dedup = score(test.labels, pred), score(test.labels[~dups], pred[~dups])
        r = BaselineResult(key, b.algorithm, b.features, b.params, split, full, dedup, len(y_tr), round(t1 - t0, 2),
                           round(t2 - t1, 2), round(feat_s, 2), hardware(), seed)
        say(f"  accuracy {full.accuracy:.4f}  macro F1 {full.macro_f1:.4f}  (fit {t1 - t0:.1f} s, predict {t2 - t1:.1f} s)")
        results.append(r)
    return results


def markdown_table(results: list[BaselineResult]) -> str:
    rows = ["| algorithm | features | accuracy | acc. minus Training dups | macro precision | macro recall | macro F1 | budget |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r.algorithm} | {r.features.upper()} | {r.full.accuracy:.4f} | {r.dedup.accuracy:.4f} | "
                    f"{r.full.macro_precision:.4f} | {r.full.macro_recall:.4f} | {r.full.macro_f1:.4f} | {r.budget} |")
    return "\n".join(rows)


def config() -> dict:
    """What the cached results depend on (besides the data): features, estimators, version."""
    return {"version": VERSION, "hog": {k: list(v) if isinstance(v, tuple) else v for k, v in HOG.items()}, "lbp": LBP,
            "baselines": {k: [b.algorithm, b.features, b.params, b.max_train] for k, b in BASELINES.items()},
            "classes": list(CLASSES)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m moodtune.training.baselines", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BASELINES)}")
    p.add_argument("--split", default="PrivateTest", choices=["PublicTest", "PrivateTest"])
    p.add_argument("--train-limit", type=int)
    p.add_argument("--test-limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="FER2013 image folder or Kaggle fer2013.csv (default <data>/fer2013)")
    a = p.parse_args(argv)
    data = load(a.data, ferplus=None)
    res = run_baselines(data, a.only.split(",") if a.only else None, a.split, a.train_limit, a.test_limit, a.seed)
    print(f"\n## Classical baselines on FER2013 {a.split} (seed {a.seed})\n")
    print(markdown_table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
