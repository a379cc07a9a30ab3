"""Time one RMISR-BL x2 training step (forward, L1, backward, Adam) on a CUDA GPU.

Run as ``python benchmarks/gpu_step_time.py`` on a machine with a GPU; prints ms per step and
samples per second for several batch / patch sizes, float32 and bfloat16 autocast,
channels-last, and ``torch.compile``. Random tensors: this measures the GPU step alone, not
data loading (0.19-0.34 ms per sample on one CPU core, see ``docs/training.md``).
"""

import time

import torch
import torch.nn.functional as F

from monai_rmisr.networks.nets import RMISR

torch.backends.cudnn.benchmark = True
dev = "cuda"


def bench(label, net, batch, patch, scale, amp=None, steps=40, cl=False):
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    lr = torch.rand(batch, 1, patch, patch, device=dev)
    hr = torch.rand(batch, 1, patch * scale, patch * scale, device=dev)
    if cl:
        lr = lr.contiguous(memory_format=torch.channels_last)
        hr = hr.contiguous(memory_format=torch.channels_last)

    def step():
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = F.l1_loss(net(lr).float(), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t) / steps * 1000
    samples = batch * 1000 / ms
    print(f"{label}: batch {batch} LR patch {patch} x{scale}: {ms:.1f} ms/it, {samples:.0f} samples/s", flush=True)


print(torch.cuda.get_device_name(0), torch.__version__)
for batch, patch in ((16, 32), (32, 64), (64, 64), (128, 48)):
    bench("fp32", RMISR(2, 1, scale=2, image_residual=True).to(dev), batch, patch, 2)
bench("bf16", RMISR(2, 1, scale=2, image_residual=True).to(dev), 32, 64, 2, amp=torch.bfloat16)
net = RMISR(2, 1, scale=2, image_residual=True).to(dev).to(memory_format=torch.channels_last)
bench("fp32 channels_last", net, 32, 64, 2, cl=True)
net = RMISR(2, 1, scale=2, image_residual=True).to(dev).to(memory_format=torch.channels_last)
bench("bf16 channels_last", net, 32, 64, 2, amp=torch.bfloat16, cl=True)
t = time.perf_counter()
net = torch.compile(RMISR(2, 1, scale=2, image_residual=True).to(dev))
bench("compiled fp32 (first 5 steps incl. compile not timed)", net, 32, 64, 2)
print(f"compile + warm-up + timed: {time.perf_counter() - t:.0f} s")
bench("compiled fp32", net, 16, 32, 2)
