"""The shipped models on a CUDA GPU: agreement with the CPU, and inference time.

Run as ``python benchmarks/gpu_inference.py`` on a machine with a GPU. For each shipped model:
the largest absolute difference between CPU and CUDA outputs on a 128x128 input (CUDA
convolutions use TF32 by default), and the mean time of 20 forward passes on a 512x512 input
(float32, batch 1, after 3 warm-ups); then ``super_resolve`` on CPU vs CUDA.
"""

import time

import numpy as np
import torch

from monai_rmisr import load_pretrained, super_resolve

torch.manual_seed(0)
x = torch.rand(1, 1, 512, 512)
print("device", torch.cuda.get_device_name(0), "torch", torch.__version__)
for name in ["rmisr_bl_x2", "rmisr_bl_x3", "rmisr_bl_x4", "rmisr_vp_x4", "rmisr_meta"]:
    cpu = load_pretrained(name, "cpu")
    gpu = load_pretrained(name, "cuda")
    with torch.inference_mode():
        small = x[..., :128, :128]
        ref = cpu(small)
        out = gpu(small.cuda()).cpu()
        diff = (ref - out).abs().max().item()
        xc = x.cuda()
        for _ in range(3):
            gpu(xc)
        torch.cuda.synchronize()
        t = time.perf_counter()
        n = 20
        for _ in range(n):
            y = gpu(xc)
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t) / n * 1000
    print(
        f"{name}: max|cpu-cuda| on 128x128 {diff:.2e}; "
        f"512x512 -> {tuple(y.shape[-2:])} {ms:.2f} ms/image (fp32, mean of {n})"
    )
img = np.random.default_rng(0).random((1, 300, 400), dtype=np.float32)
a = super_resolve(img, 2, model="rmisr_bl_x2", device="cpu")
b = super_resolve(img, 2, model="rmisr_bl_x2", device="cuda")
print("super_resolve cpu vs cuda max diff", float(np.abs(np.asarray(a) - np.asarray(b)).max()), np.asarray(b).shape)
