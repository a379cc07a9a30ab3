"""Installation script for monai-rmisr (metadata lives here; tool settings in pyproject.toml)."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
#: The shipped weights live once, in the MONAI bundle (``bundles/rmisr/models/<name>.pt``, where the bundle's
#: configs, model cards and a checkout's editable install read them). A wheel gets a copy as package data in
#: ``monai_rmisr/models``, the folder ``monai_rmisr.inference.pretrained.models_dir`` falls back to; the copy
#: exists only in the build folder and the wheel, never in the source tree.
WEIGHTS_SOURCE = HERE / "bundles" / "rmisr" / "models"
WEIGHTS_PACKAGE_DIR = ("monai_rmisr", "models")
version: dict[str, str] = {}
exec((HERE / "monai_rmisr" / "_version.py").read_text(), version)


class BuildPyWithWeights(build_py):
    """``build_py`` that also copies the bundle's ``*.pt`` weights into ``monai_rmisr/models`` (not when editable)."""

    def _weights(self) -> list[tuple[Path, Path]]:
        if self.editable_mode:  # an editable install reads the bundle folder itself
            return []
        # not the bundle's models/model.pt, a symbolic link to the default model's file (the Model Zoo's name)
        weights = sorted(path for path in WEIGHTS_SOURCE.glob("*.pt") if not path.is_symlink())
        if not weights:
            raise SystemExit(
                f"setup.py: no weights files (*.pt) in {WEIGHTS_SOURCE}: build monai-rmisr from a full checkout "
                "or from its sdist, which both hold bundles/rmisr/models."
            )
        target = Path(self.build_lib, *WEIGHTS_PACKAGE_DIR)
        return [(source, target / source.name) for source in weights]

    def run(self) -> None:
        super().run()
        for source, target in self._weights():
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *(str(target) for _, target in self._weights())]


CORPUS = ["pydicom-data>=1.0", "scikit-image>=0.22", "PyWavelets>=1.4", "scikit-learn>=1.3"]

setup(
    name="monai-rmisr",
    version=version["__version__"],
    description=(
        "RMISR: realistic medical image super-resolution (pyramidal feature multi-distillation "
        "networks, Laplacian gradient branch, arbitrary-scale upsampling) as a MONAI plugin."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["monai_rmisr", "monai_rmisr.*"]),
    include_package_data=True,
    install_requires=[
        # Ranges, so that installing us keeps a user's torch (a CUDA build) and MONAI. Lower bounds:
        # torch.onnx.export(dynamo=...) (2.5), torch.amp.GradScaler("cuda") (2.3); MONAI 1.4.0 has every
        # engine attribute that SRTrainer / SREvaluator use. Upper bounds: the next torch major, the next
        # MONAI minor (SRTrainer overrides MONAI's private _iteration). `make` installs torch 2.13.0 and MONAI
        # 1.6.1 (constraints.txt). Also tried with torch 2.13.0 (2026-12-06, fresh virtualenvs without the
        # constraints): MONAI 1.5.2 and 1.4.0 (which takes numpy<2), pytorch-ignite 0.5.0.post2 and 0.5.5: a
        # bundle training run and `rmisr upscale` work; the fast tests that failed there failed in the tests
        # themselves (mended: SRTrainer without a DataLoader needs epoch_length on MONAI 1.4, download_url checks
        # md5 unless told before MONAI 1.6.1, the bundle names the tested versions). Not tried: torch < 2.13
        # (MONAI 1.6 needs torch >= 2.8). MONAI 1.4/1.5's `ignite` extra pins pytorch-ignite 0.4.11, which lacks
        # what we import (ignite.handlers.ProgressBar): installing us moves it to 0.5.
        "torch>=2.5,<3",
        "monai>=1.4,<1.7",
        "pytorch-ignite>=0.5,<0.6",
        "numpy>=1.24",
        # imported by the library itself (transforms, metrics, io.images); until .ci/check_wheel installed a
        # bare wheel they came only through the corpus extra's scikit-image. Tested: scipy 1.17.1, tifffile 2026.3.3
        "scipy>=1.10",
        "tifffile>=2023.1",
        "pydicom>=3,<4",
        "pylibjpeg>=2.0",
        "pylibjpeg-libjpeg>=2.1",
        "pylibjpeg-openjpeg>=2.3",
        "itk>=5.3,<6",
        "nibabel>=5",
        "matplotlib>=3.7",
        "pillow>=10",
        "fire>=0.5",
        "pyyaml>=6",
        "jsonschema>=4",
        "tensorboard>=2.14",
        "tqdm>=4.60",
    ],
    extras_require={
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        "gui": ["PySide6-Essentials>=6.6"],
        # rmisr pacs and rmisr listen (monai_rmisr.pacs): QIDO-RS / WADO-RS / STOW-RS and DIMSE C-STORE through
        # maintained clients (pynetdicom 3 is the one for pydicom 3)
        "pacs": ["dicomweb-client>=0.59", "pynetdicom>=3.0"],
        # notebooks/quickstart.ipynb in a browser (make notebook); the tests run its code without Jupyter
        "notebook": ["jupyterlab>=4"],
        # the embedded training corpus (monai_rmisr.data.corpus: the bundle's default data, the demo,
        # the tests): pydicom-data and scikit-image ship its images, PyWavelets and scikit-learn its
        # optional EXTRA split (bundle option extra_images). The library itself needs none of them.
        "corpus": CORPUS,
        "dev": [
            *CORPUS,
            "pytest>=8",
            "ruff>=0.6",
            "onnx>=1.16",
            "onnxruntime>=1.18",
            "onnxscript>=0.1",
            "dicomweb-client>=0.59",
            "pynetdicom>=3.0",
            "trustme>=1.0",  # test certificates for DICOM over TLS
        ],
    },
    cmdclass={"build_py": BuildPyWithWeights},
    entry_points={"console_scripts": ["rmisr=monai_rmisr.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
