"""dvc.yaml declares, for each stage, exactly the code it runs, the files it reads and writes
(as named in featuremaps.paths) and the params it reads; the package has no import cycle."""
import ast
import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from conftest import STAGES

from featuremaps import paths
from featuremaps.params import Params

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def module_file(module: str) -> Path | None:
    """The file of a featuremaps module (a package's __init__.py), or None for a name inside one."""
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _packages(module: str) -> list:
    """featuremaps.a.b -> [featuremaps, featuremaps.a]: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def local_imports(path: Path, package: str | None = None) -> set:
    """The featuremaps modules that running `path` imports: absolute, relative (`from . import x`,
    `from .x import y`) and importlib.import_module with a constant name; a dynamic import whose
    name is not a constant fails, since its deps cannot be known."""
    tree = ast.parse(path.read_text())
    if package is None:  # the package a relative import starts from
        package = ".".join(path.relative_to(SRC).parent.parts) if path.is_relative_to(SRC) else ""
    # imports under `if TYPE_CHECKING:` are never run
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "featuremaps" or module.startswith("featuremaps."):
                names.add(module)
                # `from featuremaps.x import y` where y is a module imports it too
                names |= {f"{module}.{a.name}" for a in node.names if module_file(f"{module}.{a.name}")}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("featuremaps")}
        elif isinstance(node, ast.Call) and (
                getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None) in (
                    "import_module", "__import__")):
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                pytest.fail(f"{path}:{node.lineno}: a dynamic import of a name that is not a constant")
            if arg.value.startswith("featuremaps"):
                names.add(arg.value)
    return {p for name in names for p in _packages(name) + [name] if p.startswith("featuremaps")}


def runs_code(path: Path) -> bool:
    """False for a package __init__.py that holds only a docstring."""
    body = ast.parse(path.read_text()).body
    return not (path.name == "__init__.py" and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                                                   for n in body))


PACKAGE_FILE = re.compile(r'package_text\("featuremaps((?:\.\w+)*)", "([\w.]+)"\)')


def package_files(path: Path) -> set:
    """The package files (the pages' .js and .css) a module reads with package_text."""
    return {str(Path("src/featuremaps", *package.split(".")[1:], name))
            for package, name in PACKAGE_FILE.findall(path.read_text())}


def modules_run_by(script: Path) -> set:
    """The modules a stage script imports, directly or not, and the package files they read."""
    todo, seen = list(local_imports(script)), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        todo += local_imports(module_file(mod))
    files = {m: module_file(m) for m in seen}
    return ({str(f.relative_to(ROOT)) for f in files.values() if runs_code(f)}
            | {p for f in files.values() for p in package_files(f)})


def is_code(dep: str) -> bool:
    return dep.endswith(".py") or dep.startswith("src/")


SECTIONS = {f.name for f in dataclasses.fields(Params)}


def params_read_by(script: Path) -> set:
    """The params a stage reads: a whole section where its script uses `params.<section>` as a
    whole, `<section>.<key>` where it only ever uses single keys of it; every section where it
    writes the whole params into its output (the report)."""
    text = script.read_text()
    if "params_as_dict(params)" in text:
        return SECTIONS
    found = set()
    for section, key in re.findall(rf"params\.({'|'.join(SECTIONS)})\b(?:\.(\w+))?", text):
        found.add(f"{section}.{key}" if key else section)
    return {p for p in found if "." not in p or p.split(".")[0] not in found}


def paths_named_by(script: Path) -> set:
    """The featuremaps.paths names a stage script uses (paths.X)."""
    tree = ast.parse(script.read_text())
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and getattr(node.value, "id", None) == "paths"}


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def outs_of(stage: dict) -> set:
    return {next(iter(o)) if isinstance(o, dict) else o
            for kind in ("outs", "metrics", "plots") for o in stage.get(kind, [])}


def tracked(path: Path, declared: set) -> str | None:
    """The dvc.yaml path that holds `path`: itself or a folder above it."""
    return next((d for d in declared if Path(d) == path or Path(d) in path.parents), None)


def covering(path: Path, declared: set) -> set:
    """The dvc.yaml paths `path` stands for: the one that holds it, or, for a folder a stage names
    (DVCLive's), the declared paths inside it."""
    holder = tracked(path, declared)
    return {holder} if holder else {d for d in declared if path in Path(d).parents}


def test_deps_are_exactly_the_code_each_stage_runs():
    found = stages()
    assert list(found) == STAGES
    for name, stage in found.items():
        script = ROOT / "stages" / f"{name}.py"
        code_deps = {d for d in stage["deps"] if is_code(d)}
        assert code_deps == modules_run_by(script) | {f"stages/{name}.py"}, name
        assert stage["cmd"] == f"python stages/{name}.py"


def test_files_between_stages_are_the_paths_each_stage_names():
    """Each stage's data deps and outs are exactly the featuremaps.paths it uses; each output is
    written by one stage and read only by later ones."""
    found = stages()
    # fetched files kept between runs, and the default folders of the featuremaps commands: no stage's outputs
    untracked = {"DOWNLOADS", "COMPARE", "IMAGES"}
    writer = {}
    for order, (name, stage) in enumerate(found.items()):
        outs = outs_of(stage)
        data_deps = {d for d in stage["deps"] if not is_code(d)} - {"${data.folder}", str(paths.MODELS)}  # the user's
        named = {getattr(paths, n) for n in paths_named_by(ROOT / "stages" / f"{name}.py") - untracked}
        if name == "download":  # depends on check's output only to run after it
            named.add(paths.PARAMS_OK)
        declared = outs | data_deps
        assert set().union(*(covering(p, declared) for p in named)) == declared, name
        for out in outs:
            assert out not in writer, f"{out} is written by {writer.get(out)} and {name}"
            writer[out] = (order, name)
        for dep in data_deps:
            assert dep in writer and writer[dep][0] < order, f"{name} reads {dep}, which no earlier stage writes"
    # the user's folder of images is download's dependency (a changed file reruns it) and no one else's
    assert [n for n, stage in found.items() if "${data.folder}" in stage["deps"]] == ["download"]
    # so is the user's folder of models train's, which builds the model from it
    assert [n for n, stage in found.items() if str(paths.MODELS) in stage["deps"]] == ["train"]
    listed = {n for n, v in vars(paths).items() if isinstance(v, Path)} - untracked - {"PARAMS", "MODELS"}
    assert set().union(*(covering(getattr(paths, n), set(writer)) for n in listed)) == set(writer)
    # the top-level plots read what train wrote
    for plot in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]:
        for source in next(iter(plot.values()))["y"]:
            assert source in writer, source


def test_params_are_exactly_the_sections_each_stage_reads():
    found = stages()
    assert found.pop("check")["params"] == [{"params.yaml": None}]  # the whole file
    for name, stage in found.items():
        script = ROOT / "stages" / f"{name}.py"
        assert set(stage["params"]) == params_read_by(script), name


def import_graph() -> dict:
    modules = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (SRC / "featuremaps").rglob("*.py")}
    return {m: {i for i in local_imports(p) if i in modules and i != m and not m.startswith(i + ".")}
            for m, p in modules.items()}


def cycle_in(graph: dict) -> list | None:
    """One import cycle of `graph` as [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "featuremaps.analysis.activations" in graph and "featuremaps.report.catalogue" in graph
    assert cycle_in(graph) is None, " -> ".join(cycle_in(graph))


# The floors of the package, bottom first (DESIGN.md: imports point down). A module imports only
# from its own floor or a lower one, so a stage never depends on the code of a later stage or a
# command: an edit to `featuremaps image` or to compare reruns nothing.
FLOORS = (
    ("featuremaps", "featuremaps.errors", "featuremaps.paths", "featuremaps.params", "featuremaps.files",
     "featuremaps.tables", "featuremaps.threads", "featuremaps.npm", "featuremaps.revisions",
     "featuremaps.command_output", "featuremaps.stage"),
    ("featuremaps.data",),
    ("featuremaps.model", "featuremaps.cost"),
    ("featuremaps.analysis",),
    ("featuremaps.drawing", "featuremaps.report"),
    ("featuremaps.compare", "featuremaps.sweep", "featuremaps.image", "featuremaps.cli"),
)


def floor_of(module: str) -> int:
    """The floor of `module`: that of the longest prefix FLOORS names."""
    best = max((len(name), i) for i, names in enumerate(FLOORS) for name in names
               if module == name or module.startswith(name + "."))
    return best[1]


def upward_imports(graph: dict) -> list:
    return sorted(f"{m} -> {i}" for m, imports in graph.items() for i in imports if floor_of(i) > floor_of(m))


def test_imports_point_down():
    graph = import_graph()
    assert upward_imports(graph) == []
    # known answers: the floors read as DESIGN.md lays them out, and an upward import is found
    assert [floor_of(m) for m in ("featuremaps.params", "featuremaps.data.folder", "featuremaps.cost",
                                  "featuremaps.analysis.cka", "featuremaps.report.explorer", "featuremaps.image.prepare")] \
        == [0, 1, 2, 3, 4, 5]
    assert upward_imports({"featuremaps.data.folder": {"featuremaps.image.prepare", "featuremaps.errors"}}) \
        == ["featuremaps.data.folder -> featuremaps.image.prepare"]


def test_cycle_finder_and_import_reader_on_known_answers(tmp_path):
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    fake = tmp_path / "x.py"
    fake.write_text("from .store import Extraction\nfrom .. import paths\nimport importlib\n"
                    "def f():\n    return importlib.import_module('featuremaps.drawing.pool')\n")
    assert local_imports(fake, package="featuremaps.analysis") == {
        "featuremaps", "featuremaps.analysis", "featuremaps.analysis.store", "featuremaps.paths",
        "featuremaps.drawing", "featuremaps.drawing.pool"}
    fake.write_text("import importlib\nname = 'featuremaps.paths'\nimportlib.import_module(name)\n")
    with pytest.raises(pytest.fail.Exception, match="dynamic import"):
        local_imports(fake)


def test_committed_lock_records_the_code_as_it_is():
    """The committed dvc.lock was written by the committed code: every stage's script and module
    deps hash to what dvc.lock records, so `dvc status` on a clone says nothing of code changes
    (a change committed without its pipeline rerun fails here)."""
    import hashlib
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    assert sorted(lock) == sorted(STAGES)
    stale = []
    for name, stage in lock.items():
        for dep in stage["deps"]:
            if is_code(dep["path"]):
                actual = hashlib.md5((ROOT / dep["path"]).read_bytes()).hexdigest()
                if actual != dep["md5"]:
                    stale.append(f"{name}: {dep['path']}")
    assert not stale, f"dvc.lock is older than the code (run `dvc repro` and commit dvc.lock): {stale}"


def test_the_stage_named_for_each_output_is_the_one_dvc_yaml_runs_to_write_it():
    """featuremaps.paths.WRITER (read by the stores' "rerun the X stage" lines) agrees with dvc.yaml."""
    for name, stage in stages().items():
        for out in outs_of(stage):
            related = [p for p in paths.WRITER if Path(out) == p or Path(out) in p.parents or p in Path(out).parents]
            # a folder holding another stage's output (DVCLive's live/) defers to the nearer entry
            nearest = max(related, key=lambda p: len(p.parts), default=None)
            if nearest is not None:
                assert paths.WRITER[nearest] == name, (nearest, paths.WRITER[nearest], name)
    written = {Path(out) for stage in stages().values() for out in outs_of(stage)}
    assert all(any(p == w or w in p.parents or p in w.parents for w in written) for p in paths.WRITER)
