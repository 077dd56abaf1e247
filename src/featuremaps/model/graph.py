"""A model's forward pass as a list of operations a page can run without torch (the explorer's draw
view, report/graph.js), from its torch.fx trace.

    ops, reason = page_graph(model, layers)   # reason: why the page cannot run it, else None

Each op is {"op": kind, "in": [indices of earlier ops], ...its settings, "w": {role: state dict key}};
op 0 is the (normalised) input and the last op's output is the logits. The kinds are those the page
implements: conv (stride, padding, dilation, groups), batch norm, ReLU / ReLU6 / leaky ReLU, max,
average and adaptive average pooling, addition, concatenation over channels, flatten, linear, and
dropout or identity (nothing in eval mode). `layers` (names as featuremaps.model.layers gives them)
are marked on the op whose output is that layer's map: a module's call, or the last op inside a block.
"""
from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from featuremaps.errors import first_line
from featuremaps.model.layers import CALL, module_geometry

IDENTITY = (nn.Dropout, nn.Dropout2d, nn.Identity)
FUNCTIONS = {operator.add: "add", torch.add: "add", torch.cat: "cat", torch.flatten: "flatten", F.relu: "relu",
             torch.relu: "relu", F.relu6: "relu6", F.adaptive_avg_pool2d: "adaptiveavg", F.dropout: "identity"}
METHODS = {"flatten": "flatten", "relu": "relu", "add": "add"}


class Unsupported(Exception):
    """An operation the page does not implement; its message says which."""



def _size(v) -> list:
    """An adaptive pool's output size as [h, w], None where a side keeps the input's."""
    if isinstance(v, (tuple, list)):
        return [None if x is None else int(x) for x in v]
    if v is None:
        raise Unsupported("an adaptive pooling of no output size")
    return [int(v), int(v)]


def _module_op(module: nn.Module, path: str) -> dict:
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str) or module.padding_mode != "zeros":
            raise Unsupported(f"{path}: a Conv2d with padding {module.padding!r} ({module.padding_mode})")
        return {"op": "conv", "F": int(module.out_channels), **module_geometry(module),
                "w": {"weight": f"{path}.weight", **({"bias": f"{path}.bias"} if module.bias is not None else {})}}
    if isinstance(module, nn.BatchNorm2d):
        if module.running_mean is None:
            raise Unsupported(f"{path}: a BatchNorm2d without running statistics")
        keys = {"mean": f"{path}.running_mean", "var": f"{path}.running_var"}
        if module.affine:
            keys.update(weight=f"{path}.weight", bias=f"{path}.bias")
        return {"op": "bn", "eps": float(module.eps), "w": keys}
    if isinstance(module, nn.ReLU):
        return {"op": "relu"}
    if isinstance(module, nn.ReLU6):
        return {"op": "relu6"}
    if isinstance(module, nn.LeakyReLU):
        return {"op": "leaky", "slope": float(module.negative_slope)}
    if isinstance(module, nn.MaxPool2d):
        if module.return_indices:
            raise Unsupported(f"{path}: a MaxPool2d returning indices")
        return {"op": "maxpool", **module_geometry(module), "ceil": bool(module.ceil_mode)}
    if isinstance(module, nn.AvgPool2d):
        if module.divisor_override is not None:
            raise Unsupported(f"{path}: an AvgPool2d with divisor_override")
        return {"op": "avgpool", **module_geometry(module), "ceil": bool(module.ceil_mode),
                "include_pad": bool(module.count_include_pad)}
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return {"op": "adaptiveavg", "size": _size(module.output_size)}
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise Unsupported(f"{path}: a Flatten of dims {module.start_dim}..{module.end_dim} (the page flattens from 1)")
        return {"op": "flatten"}
    if isinstance(module, nn.Linear):
        return {"op": "linear", "w": {"weight": f"{path}.weight", **({"bias": f"{path}.bias"} if module.bias is not None else {})}}
    if isinstance(module, IDENTITY):
        return {"op": "identity"}
    raise Unsupported(f"{path} ({type(module).__name__})")


def _function_op(node: fx.Node) -> dict:
    table = FUNCTIONS if node.op == "call_function" else METHODS
    kind = table.get(node.target)
    what = getattr(node.target, "__name__", str(node.target))
    if kind is None:
        raise Unsupported(f"{'the function' if node.op == 'call_function' else 'the tensor method'} {what}")
    args = list(node.args)  # a method's self first, as the function's tensor: the same positions
    if kind == "flatten":
        start = node.kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
        if start != 1 or node.kwargs.get("end_dim", args[2] if len(args) > 2 else -1) != -1:
            raise Unsupported(f"{what} from dim {start} (the page flattens from dim 1)")
    if kind == "cat":
        dim = node.kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if dim != 1:
            raise Unsupported(f"torch.cat over dim {dim} (the page concatenates channels, dim 1)")
    if kind == "add" and (len([a for a in node.args if isinstance(a, fx.Node)]) != 2 or node.kwargs.get("alpha", 1) != 1):
        raise Unsupported("an addition of other than two tensors")
    if kind == "adaptiveavg":
        return {"op": kind, "size": _size(node.kwargs.get("output_size", args[1] if len(args) > 1 else None))}
    return {"op": kind}


def _inputs(node: fx.Node) -> list:
    out = []
    for a in node.args:
        if isinstance(a, fx.Node):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, fx.Node))
    return out


def page_graph(model: nn.Module, layers: list) -> tuple[list | None, str | None]:
    """(ops, None), or (None, why the page cannot run the model: the operation it lacks, or why it
    cannot be traced)."""
    try:
        traced = fx.symbolic_trace(model)
    except Exception as exc:  # any error of tracing: the model's Python cannot be followed symbolically
        return None, f"torch.fx cannot trace its forward ({first_line(exc)})"
    modules = dict(model.named_modules())
    ops, index, calls, stacks = [], {}, {}, []
    total_calls = {}
    for node in traced.graph.nodes:
        if node.op == "call_module":
            total_calls[node.target] = total_calls.get(node.target, 0) + 1
    try:
        for node in traced.graph.nodes:
            if node.op == "placeholder":
                if ops:
                    raise Unsupported("a forward of more than one input")
                op = {"op": "input"}
            elif node.op == "output":
                out = node.args[0]
                if not isinstance(out, fx.Node):
                    raise Unsupported("an output other than one tensor")
                if index[out.name] != len(ops) - 1:  # the logits last
                    ops.append({"op": "identity", "in": [index[out.name]]})
                break
            elif node.op == "call_module":
                op = _module_op(modules[node.target], node.target)
                calls[node.target] = calls.get(node.target, 0) + 1
                op["layer"] = node.target if total_calls[node.target] == 1 else f"{node.target}{CALL}{calls[node.target]}"
            elif node.op in ("call_function", "call_method"):
                op = _function_op(node)
            else:  # get_attr: a parameter used directly, not through a module
                raise Unsupported(f"the attribute {node.target} used as a tensor")
            if node.op != "placeholder":
                op["in"] = [index[a.name] for a in _inputs(node)]
            index[node.name] = len(ops)
            stacks.append(list(node.meta.get("nn_module_stack", {})))
            ops.append(op)
    except Unsupported as exc:
        return None, f"the page does not implement {exc}"
    # a block's map is the output of the last op inside it
    marked = {op["layer"]: i for i, op in enumerate(ops) if "layer" in op}
    for name in layers:
        if name not in marked:
            inside = [i for i, stack in enumerate(stacks) if any(s.split("@")[0] == name for s in stack)]
            if not inside:
                return None, f"its layer {name} is not an operation of its traced graph"
            marked[name] = inside[-1]
    for op in ops:
        op.pop("layer", None)
    for name in layers:
        ops[marked[name]].setdefault("maps", []).append(name)
    return ops, None
