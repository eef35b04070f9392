#!/usr/bin/python3
"""Times OpenBLAS cblas_sgemm (square, row-major NN, C = A*B) at 1 and 2 threads and prints
"n threads GFLOPS" lines (best of --repeats timed runs of at least --min-time seconds each).

The library is loaded by path through ctypes (Debian's libopenblas0-pthread), so the result does
not depend on which BLAS the libblas.so.3 alternative points to. Used by
bench/compare_openblas.sh; install with: tools/setup.sh tools/apt-packages-bench.txt
"""
import argparse
import ctypes
import sys
import time

import numpy as np

LIB = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
ROW_MAJOR, NO_TRANS = 101, 111


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="256,512,1024,2048")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    try:
        blas = ctypes.CDLL(LIB)
    except OSError as e:
        sys.exit(f"openblas_sgemm: cannot load {LIB} ({e}); "
                 "run: tools/setup.sh tools/apt-packages-bench.txt")
    blas.cblas_sgemm.restype = None
    f, i = ctypes.c_float, ctypes.c_int
    ptr = ctypes.c_void_p
    blas.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, ptr, i, ptr, i, f, ptr, i]
    rng = np.random.default_rng(1)
    for threads in [int(t) for t in args.threads.split(",")]:
        blas.openblas_set_num_threads(threads)
        for n in [int(s) for s in args.sizes.split(",")]:
            a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
            b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
            c = np.zeros((n, n), np.float32)

            def run():
                blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0,
                                 a.ctypes.data, n, b.ctypes.data, n, 0.0, c.ctypes.data, n)

            run()  # warm-up: thread start, page faults
            best = 0.0
            for _ in range(args.repeats):
                iters, start = 0, time.perf_counter()
                while True:
                    run()
                    iters += 1
                    elapsed = time.perf_counter() - start
                    if elapsed >= args.min_time:
                        break
                best = max(best, 2.0 * n ** 3 * iters / elapsed / 1e9)
            print(f"{n} {threads} {best:.1f}", flush=True)


if __name__ == "__main__":
    main()
