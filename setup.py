"""The compiled counting core (src/metcnv/counting.pyx); everything else is in pyproject.toml.

It is Cython over pysam's htslib: compiled against the pysam in the build environment
(pyproject.toml pins the same version for build and run), linked to pysam's own libchtslib
(found at run time beside pysam, or already loaded by `import pysam`), and told which
pysam it was built with, so that metcnv.coverage can refuse a different one.
"""

from pathlib import Path

import pysam
from Cython.Build import cythonize
from setuptools import Extension, setup

HTSLIB = next(Path(p) for p in pysam.get_libraries() if Path(p).name.startswith("libchtslib"))

core = Extension(
    "metcnv.counting",
    ["src/metcnv/counting.pyx"],
    include_dirs=pysam.get_include(),
    define_macros=[*pysam.get_defines(), ("PYSAM_BUILD_VERSION", f'"{pysam.__version__}"')],
    library_dirs=[str(HTSLIB.parent)],
    libraries=[f":{HTSLIB.name}"],
    runtime_library_dirs=["$ORIGIN/../pysam"],
    extra_compile_args=["-O3"],
    language="c++",
)
setup(ext_modules=cythonize([core], compiler_directives={"language_level": 3}))
