"""One optimisation step on a batch: forward, cross-entropy, backward, gradient clipping, AdamW.

    step = TrainStep(model, optimizer, params, device)
    loss, logits = step(xb, yb)

On the CPU (and MPS) every step runs eagerly. On CUDA this network's step is some sixty
kernels of a few microseconds each, so launching them costs more than running them: after
WARMUP eager steps on a side stream, the step of a full batch is captured once as a CUDA
graph and later full batches only copy their data in and replay it (PyTorch's whole-network
capture: the optimizer is fused with a tensor learning rate that the schedule updates in
place, clipping has no host sync, dropout draws from the graph-safe generator). A batch of
another size (the last of an epoch) runs eagerly; the two paths run the same kernels. If
capture fails, the step says why in the log and stays eager.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from featuremaps.params import TrainParams

log = logging.getLogger("featuremaps.train")

WARMUP = 3  # eager steps before capture, as CUDA graph capture asks (lazy initialisation, allocator)


def autocast(device, precision: str):
    """The forward pass's precision: fp32 as written, or bf16 autocast (matrix work in bfloat16)."""
    # no cast cache: a graph replay must not reuse casts made at capture
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False)


def uses_cuda_graph(device) -> bool:
    return device.type == "cuda"


class TrainStep:
    def __init__(self, model, optimizer, params: TrainParams, device):
        self.model, self.optimizer, self.params, self.device = model, optimizer, params, device
        self.graphed = uses_cuda_graph(device)
        self.eager_steps = 0
        self.graph = None

    def _compute(self, xb, yb):
        with record_function("forward"), autocast(self.device, self.params.precision):
            logits = self.model(xb)
            loss = F.cross_entropy(logits.float(), yb)
        with record_function("backward"):
            loss.backward()
        with record_function("clipping"):
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.params.grad_clip, foreach=True)
        with record_function("optimizer"):
            self.optimizer.step()
        return loss, logits

    def _eager(self, xb, yb):
        self.optimizer.zero_grad(set_to_none=True)
        return self._compute(xb, yb)

    def __call__(self, xb, yb):
        full = len(xb) == self.params.batch_size
        if not (self.graphed and full):
            return self._eager(xb, yb)
        if self.graph is not None:
            self.static_x.copy_(xb)
            self.static_y.copy_(yb)
            self.graph.replay()
            return self.static_loss, self.static_logits
        if self.eager_steps < WARMUP:
            self.eager_steps += 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self._eager(xb, yb)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return out
        return self._capture(xb, yb)

    def _capture(self, xb, yb):
        try:
            self.static_x, self.static_y = xb.clone(), yb.clone()
            graph = torch.cuda.CUDAGraph()
            self.optimizer.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                self.static_loss, self.static_logits = self._compute(self.static_x, self.static_y)
            self.graph = graph
            graph.replay()  # capture records the step; this runs it
            return self.static_loss, self.static_logits
        except RuntimeError as exc:
            log.warning("CUDA graph capture failed (%s); every step runs eagerly",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self.graphed = False
            torch.cuda.synchronize(self.device)
            return self._eager(xb, yb)
