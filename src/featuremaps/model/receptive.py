"""Which input pixels a unit of any layer can see: its receptive field, exact for strided, padded,
dilated, grouped (depthwise) and residual paths, for any model.

    boxes = receptive_boxes(model, "layer2.0.conv1", units, (h, w), channels)   # [(top, left, bottom, right)]

A pixel is in the field of unit (c, y, x) when some path of the forward connects it to that unit:
the support of the unit's input gradient once nothing along the way can zero it. So the gradient is
taken (on an input of ones, the model in eval mode) under CONNECTED, a torch function mode that
keeps each operation's footprint and makes its gradient nonzero over all of it: ReLU-like
activations, dropout and normalisation pass their input on, max pooling averages over the same
windows, and convolutions and linear layers use positive weights (|w| + 1). Each of those outputs,
and its gradient on the way back, is made 0 or 1 (reached or not), so no depth can overflow or
underflow it. Additions, concatenations, padding and strides keep their own geometry, so a
residual block's field is the union of its paths'. The field is the bounding box of that support,
clipped to the image as the padding clips it; for any real input the unit's gradient lies inside it
(a ReLU or a max pool can only narrow what one image reaches). No parameter of the model is
changed, copied or given a gradient.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from featuremaps.model.layers import captured_maps, evaluating

# Activations whose gradient is zero somewhere: passed through, so that their footprint stays.
_PASS = {F.relu, F.relu_, F.relu6, F.hardtanh, F.hardtanh_, F.leaky_relu, F.leaky_relu_, F.elu, F.selu, F.celu,
         F.gelu, F.silu, F.hardswish, F.hardsigmoid, F.mish, F.threshold, F.dropout, F.dropout2d, F.alpha_dropout,
         F.batch_norm, F.instance_norm, F.group_norm, F.layer_norm, F.prelu, F.rrelu, F.softplus,
         torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_, torch.clamp, torch.Tensor.clamp}


def _positive(weight: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return (weight.detach().abs() + 1).to(like.dtype)


class _Reached(torch.autograd.Function):
    """x > 0 as 0 or 1, and on the way back the gradient's support as 0 or 1."""

    @staticmethod
    def forward(ctx, x):
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return (grad != 0).to(grad.dtype)


def _arg(args, kwargs, i, name, default):
    return args[i] if len(args) > i else kwargs.get(name, default)


_JOIN = {torch.cat, torch.concat, torch.concatenate, torch.stack, torch.hstack, torch.vstack, torch.dstack}


class CONNECTED(TorchFunctionMode):
    """Every operation with its footprint kept and its gradient nonzero over all of it (see above).
    `joined` tells whether tensors were concatenated: only then can channels see different pixels."""
    joined = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _JOIN:
            self.joined = True
        if func in _PASS:
            return args[0] if args else next(iter(kwargs.values()))
        if func in (F.max_pool2d, torch.max_pool2d):
            x = args[0]
            kernel = _arg(args, kwargs, 1, "kernel_size", None)
            stride = _arg(args, kwargs, 2, "stride", None) or kernel
            padding = _arg(args, kwargs, 3, "padding", 0)
            dilation = _arg(args, kwargs, 4, "dilation", 1)
            ceil = _arg(args, kwargs, 5, "ceil_mode", False)
            if dilation in (1, (1, 1)):
                return _Reached.apply(F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil, count_include_pad=True))
            k = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
            ones = torch.ones(x.shape[1], 1, *k, dtype=x.dtype, device=x.device)
            return _Reached.apply(F.conv2d(x, ones, None, stride, padding, dilation, groups=x.shape[1]))
        if func in (torch.conv2d, F.conv2d, torch.conv1d, torch.conv3d):
            x, weight = args[0], args[1]
            rest = list(args[3:])
            kw = {k: v for k, v in kwargs.items() if k not in ("bias", "weight", "input")}
            return _Reached.apply(func(x, _positive(weight, x), None, *rest, **kw))
        if func is F.linear:
            x = args[0] if args else kwargs["input"]
            return _Reached.apply(F.linear(x, _positive(_arg(args, kwargs, 1, "weight", None), x)))
        return func(*args, **kwargs)


def _box(support: torch.Tensor) -> tuple[int, int, int, int]:
    rows = torch.nonzero(support.any(1)).flatten()
    cols = torch.nonzero(support.any(0)).flatten()
    if len(rows) == 0:  # no path reaches the input: the whole image, never a wrong box
        return 0, 0, support.shape[0] - 1, support.shape[1] - 1
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def receptive_boxes(model: nn.Module, layer: str, units: list, image_shape, channels: int,
                    batch: int = 256) -> list:
    """(top, left, bottom, right), inclusive, of the input pixels each unit (c, y, x) of `layer` sees
    (one per unit, in order), for images of `image_shape` (h, w) with `channels` channels.

    Where every channel of the layer sees the same pixels (so unless branches are concatenated on the
    way, as in Inception; then checked at the map's corner and centre), each position is computed
    once, whatever its channel."""
    # callers may run under inference mode; the model's own mode is put back afterwards
    with torch.inference_mode(False), torch.enable_grad(), evaluating(model):
        grad = _Gradients(model, layer, image_shape, channels, batch)
        if not units:
            return []
        if grad.channels_alike():
            positions = sorted({(y, x) for _, y, x in units})
            found = dict(zip(positions, grad.boxes([(0, y, x) for y, x in positions])))
            return [found[(y, x)] for _, y, x in units]
        unique = sorted(set(units))
        found = dict(zip(unique, grad.boxes(unique)))
        return [found[u] for u in units]


class _Gradients:
    """The fields of units of one layer of `probe` (in eval mode; none of its parameters is used as it is)."""

    def __init__(self, probe: nn.Module, layer: str, image_shape, channels: int, batch: int):
        self.probe, self.layer, self.batch = probe, layer, batch
        self.dtype, self.device = torch.float32, next(probe.parameters(), torch.zeros(0)).device
        self.h, self.w = image_shape
        self.channels = channels
        with torch.no_grad(), CONNECTED() as mode:
            one = torch.ones(1, channels, self.h, self.w, dtype=self.dtype, device=self.device)
            self.shape = captured_maps(probe, one, [layer])[layer].shape[1:]
        self.joined = mode.joined

    def boxes(self, units: list) -> list:
        out = []
        for start in range(0, len(units), self.batch):
            chunk = units[start:start + self.batch]
            x = torch.ones(len(chunk), self.channels, self.h, self.w, dtype=self.dtype, device=self.device,
                           requires_grad=True)
            with CONNECTED():
                maps = captured_maps(self.probe, x, [self.layer], detach=False)[self.layer]
            c, y, xx = (torch.tensor([u[i] for u in chunk]) for i in range(3))
            maps[torch.arange(len(chunk)), c, y, xx].sum().backward()
            out += [_box(s) for s in (x.grad.abs().sum(1) > 0).cpu()]
        return out

    def channels_alike(self) -> bool:
        """Does every channel see the same pixels? Yes without a concatenation on the way (every path
        then reaches every channel alike); else compared channel by channel at two positions."""
        if not self.joined:
            return True
        n, h, w = self.shape
        probes = [(c, y, x) for y, x in {(0, 0), (h // 2, w // 2)} for c in range(n)]
        found = self.boxes(probes)
        return all(found[i] == found[i - i % n] for i in range(len(found)))
