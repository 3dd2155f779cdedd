"""Build kmseg's compiled engine (src/kmseg/engine): the C passes and their
Cython wrappers: the passes (kmseg.engine._kernels), the region labelling
(kmseg.engine._regions), the spatial passes
(kmseg.engine._spatial_kernels), the distances inside regions
(kmseg.engine._distance) and the walk along traced boundaries
(kmseg.engine._chains). Metadata is in pyproject.toml.

setuptools' Extension rather than meson-python or scikit-build-core: an
editable install (``pip install -e .``) builds the extension in place, into
src/, and imports it from there with no rebuild hook run at every import
(the CLI's start-up is benchmarked), and setuptools needs no list of the
package's files to maintain. Without a C compiler the install fails and
says so.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, PlatformError

# The same bits from every compiler: no contraction of a * b + c into FMA and
# no fast-math reordering (kmseg's fixed-seed results are the same everywhere).
FLAGS = {
    "msvc": ["/O2", "/fp:precise"],
    "unix": ["-O3", "-fno-math-errno", "-ffp-contract=off", "-fno-fast-math"],
}


class BuildExt(build_ext):
    """Floating-point flags by the compiler's type (gcc/clang or MSVC); a
    failed compilation says what kmseg needs; the extensions are built side by
    side, one a core, unless ``--parallel`` / ``-j`` says otherwise."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self) -> None:
        flags = FLAGS.get(self.compiler.compiler_type, FLAGS["unix"])
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *ext.extra_compile_args]
        try:
            super().build_extensions()
        except (CCompilerError, CompileError, ExecError, PlatformError) as exc:
            raise type(exc)(f"kmseg's compiled engine could not be built: it needs a C compiler (gcc, clang "
                            f"or MSVC) and the Python headers ({exc})") from exc


ENGINE = "src/kmseg/engine"
# Each extension module of kmseg.engine: its Cython wrapper and the C source (and header) it wraps.
PARTS = [
    ("_kernels", "kernels"),  # the k-means passes
    ("_regions", "regions"),  # connected regions
    ("_spatial_kernels", "spatial"),  # spatial segmentation
    ("_distance", "distance"),  # the distance transform of paint-by-number
    ("_chains", "chains"),  # walking traced boundaries
]
extensions = [
    Extension(f"kmseg.engine.{wrapper}", sources=[f"{ENGINE}/{wrapper}.pyx", f"{ENGINE}/{c_name}.c"],
              include_dirs=[ENGINE], depends=[f"{ENGINE}/{c_name}.h"])
    for wrapper, c_name in PARTS
]

# setuptools' build_ext runs Cython on the .pyx (Cython is a build requirement).
setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
