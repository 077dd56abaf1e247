"""dvc.yaml declares, for each stage, exactly the code it runs and the params it reads."""
import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "featuremaps"


def local_imports(path: Path) -> set:
    tree = ast.parse(path.read_text())
    # imports under `if TYPE_CHECKING:` are never run
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("featuremaps"):
            if node.module == "featuremaps":
                names |= {f"featuremaps.{a.name}" for a in node.names}
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("featuremaps.")}
    return names


def modules_run_by(script: Path) -> set:
    todo, seen = list(local_imports(script)), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        todo += local_imports(SRC / f"{mod.split('.', 1)[1]}.py")
    return {f"src/featuremaps/{m.split('.', 1)[1]}.py" for m in seen}


SECTIONS = {"seed", "data", "model", "train", "extract", "render"}


def params_read_by(script: Path) -> set:
    """Top-level params sections a stage reads: `params.<section>` in its script, or all of
    them where it writes the whole params into its output (the report)."""
    text = script.read_text()
    if "params_as_dict(params)" in text:
        return SECTIONS
    return set(re.findall(r"params\.(seed|data|model|train|extract|render)\b", text))


def test_deps_are_exactly_the_code_each_stage_runs():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["check", "download", "train", "extract", "render"]
    for name, stage in stages.items():
        script = ROOT / "stages" / f"{name}.py"
        code_deps = {d for d in stage["deps"] if d.endswith(".py")}
        expected = modules_run_by(script) | {f"stages/{name}.py"}
        expected.discard("src/featuremaps/__init__.py")
        assert code_deps == expected, name
        assert stage["cmd"] == f"python stages/{name}.py"


def test_params_are_exactly_the_sections_each_stage_reads():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages.pop("check")["params"] == [{"params.yaml": None}]  # the whole file
    for name, stage in stages.items():
        script = ROOT / "stages" / f"{name}.py"
        assert set(stage["params"]) == params_read_by(script), name
