#!/usr/bin/python3
"""scikit-learn side of bench/compare_tsne.sh (Debian python3-sklearn; run with /usr/bin/python3).

  sklearn_tsne.py run --features F.npy --embedding_out E.npy [--threads 2]
      Runs sklearn.manifold.TSNE with the settings simdnet's RunTsne mirrors and prints one JSON
      line: wall seconds (fit_transform only, as simdnet's figure covers RunTsne only) and the
      KL divergence sklearn reports (its Barnes-Hut estimate).
  sklearn_tsne.py evaluate --features F.npy --labels L.npy E1.npy [E2.npy ...]
      The one evaluator used for both implementations: P built the scikit-learn way (k =
      min(n-1, 3*perplexity+1) exact neighbours, binary-searched conditionals, symmetrized,
      normalized), then KL(P || Q) with Q normalized exactly over all n(n-1) pairs, and the 2-D
      10-NN label agreement. Prints one JSON line per embedding.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def run(args):
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from sklearn.manifold import TSNE  # Imported after OMP_NUM_THREADS is set.
    import sklearn

    x = np.load(args.features).astype(np.float32, copy=False)
    tsne = TSNE(n_components=2, perplexity=args.perplexity, early_exaggeration=12.0,
                learning_rate="auto", n_iter=args.iterations, init="pca",
                method="barnes_hut", angle=0.5, n_jobs=args.threads, random_state=args.seed)
    start = time.perf_counter()
    y = tsne.fit_transform(x)
    seconds = time.perf_counter() - start
    np.save(args.embedding_out, y.astype(np.float32))
    print(json.dumps({"impl": "sklearn", "version": sklearn.__version__,
                      "n": int(x.shape[0]), "dim": int(x.shape[1]), "threads": args.threads,
                      "seconds": round(seconds, 3), "iterations": int(tsne.n_iter_),
                      "kl_divergence_estimate": float(tsne.kl_divergence_)}))


def joint_probabilities(x, perplexity):
    from scipy.sparse import csr_matrix
    from sklearn.manifold import _utils
    from sklearn.neighbors import NearestNeighbors

    n = x.shape[0]
    k = min(n - 1, int(3.0 * perplexity + 1))
    nn = NearestNeighbors(n_neighbors=k, metric="euclidean").fit(x)
    dist, idx = nn.kneighbors(None, n_neighbors=k)
    cond = _utils._binary_search_perplexity((dist ** 2).astype(np.float32), perplexity, 0)
    p = csr_matrix((cond.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    p = p + p.T
    p /= max(p.sum(), np.finfo(np.double).eps)
    return p.tocoo()


def exact_kl(p, y):
    y = y.astype(np.float64)
    n = y.shape[0]
    sq = (y * y).sum(1)
    z = 0.0
    for start in range(0, n, 1000):  # Blocks of rows keep memory at 1000 x n doubles.
        d2 = sq[start:start + 1000, None] + sq[None, :] - 2.0 * y[start:start + 1000] @ y.T
        np.maximum(d2, 0.0, out=d2)
        q = 1.0 / (1.0 + d2)
        z += q.sum() - q[np.arange(q.shape[0]), np.arange(start, start + q.shape[0])].sum()
    diff = y[p.row] - y[p.col]
    q = 1.0 / (1.0 + (diff * diff).sum(1)) / z
    mask = p.data > 0
    return float((p.data[mask] * np.log(p.data[mask] / q[mask])).sum())


def knn_agreement(y, labels, k=10):
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k).fit(y)
    _, idx = nn.kneighbors(None, n_neighbors=k)
    return float((labels[idx] == labels[:, None]).mean())


def evaluate(args):
    x = np.load(args.features).astype(np.float32, copy=False)
    labels = np.load(args.labels).astype(np.int64)
    p = joint_probabilities(x, args.perplexity)
    for path in args.embeddings:
        y = np.load(path)
        print(json.dumps({"embedding": path, "kl_divergence": exact_kl(p, y),
                          "knn10_agreement": knn_agreement(y, labels)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--features", required=True)
    r.add_argument("--embedding_out", required=True)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--perplexity", type=float, default=30.0)
    r.add_argument("--iterations", type=int, default=1000)
    r.add_argument("--seed", type=int, default=0, help="random_state (PCA's randomized SVD)")
    e = sub.add_parser("evaluate")
    e.add_argument("--features", required=True)
    e.add_argument("--labels", required=True)
    e.add_argument("--perplexity", type=float, default=30.0)
    e.add_argument("embeddings", nargs="+")
    args = parser.parse_args()
    run(args) if args.command == "run" else evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
