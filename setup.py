"""Installation script for monai-rmisr (metadata lives here; tool settings in pyproject.toml)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version: dict[str, str] = {}
exec((HERE / "monai_rmisr" / "_version.py").read_text(), version)

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
        # CPU wheel available locally; an unpinned torch pulls several GB of CUDA packages.
        "torch==2.13.0",
        "monai==1.6.1",
        "pytorch-ignite>=0.5,<0.6",
        "numpy>=1.24",
        "pydicom>=3,<4",
        "pydicom-data>=1.0",
        "pylibjpeg>=2.0",
        "pylibjpeg-libjpeg>=2.1",
        "pylibjpeg-openjpeg>=2.3",
        "itk>=5.3,<6",
        "nibabel>=5",
        "matplotlib>=3.7",
        "scikit-image>=0.22",
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
        # the corpus's optional EXTRA split (bundle option extra_images)
        "corpus": ["PyWavelets>=1.4", "scikit-learn>=1.3"],
        "dev": [
            "PyWavelets>=1.4",
            "scikit-learn>=1.3",
            "pytest>=8",
            "ruff>=0.6",
            "onnx>=1.16",
            "onnxruntime>=1.18",
            "onnxscript>=0.1",
        ],
    },
    entry_points={"console_scripts": ["rmisr=monai_rmisr.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
