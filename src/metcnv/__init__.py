"""metcnv: MET copy number and MET amplification calls from targeted NGS reads."""

import os

# metcnv's linear algebra is on small matrices (normals x bins), where OpenBLAS's threads
# only add overhead, and on a busy machine much of it: an SVD of 40 normals' residuals took
# 0.25 s with two BLAS threads and 0.016 s with one on a shared 2-core machine. Set before
# numpy is imported; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
