"""A model of the user's own under the real dvc, from the finished baseline: train and extract rerun
on it, models/ is train's dependency, and `featuremaps image` reads it, from a revision with the
revision's own model code."""
import json

import pandas as pd
from conftest import ran
from test_own_model import MYNET


def test_your_own_module_through_dvc_and_its_file_as_train_s_dependency(baseline):
    proj = baseline
    (proj.path / "models" / "mynet.py").write_text(MYNET)
    proj.set_params(model={"source": "module", "factory": "models/mynet.py:make_net"})
    proj.commit("my own network")
    assert ran(proj.repro("extract")) == ["check", "train", "extract"]
    top = pd.read_parquet(proj.path / "data/activations/top_k.parquet")
    assert list(dict.fromkeys(top["layer"])) == ["stem", "block.conv1", "block.depthwise"]
    # the factory's file is train's dependency (so what follows it reruns after it); nothing before train
    (proj.path / "models" / "mynet.py").write_text(MYNET + "\n# wider next time\n")
    stale = proj.status()
    assert stale["train"] == [{"changed deps": {"models": "modified"}}]
    assert "check" not in stale and "download" not in stale

    # featuremaps image on it: its extracted layers' maps and Grad-CAM, from the workspace and from a revision
    proj.repro("extract")
    proj.commit("ran")
    example = str(proj.path.parents[0] / "example.png")
    import shutil
    from pathlib import Path
    shutil.copy(Path(__file__).resolve().parents[1] / "docs/examples/four_28px.png", example)
    proj.run("featuremaps", "image", example, "--out", "here")
    numbers = json.loads((proj.path / "here/images.json").read_text())
    assert numbers["model"] == "data/model/model.pt" and len(numbers["images"]) == 1
    # the working folder's model code changed (a wider net, which the weights no longer fit): a revision's
    # model is built from the revision's own file, and gives the same answer
    (proj.path / "models" / "mynet.py").write_text(MYNET.replace("width=8", "width=12"))
    failed = proj.run("featuremaps", "image", example, "--out", "broken", check=False)
    assert failed.returncode == 1 and "its model cannot be built here" not in failed.stderr and \
        failed.stderr.strip().startswith("error: data/model/model.pt: weights do not fit the model it describes")
    proj.run("featuremaps", "image", example, "--rev", "HEAD", "--out", "from-rev")
    again = json.loads((proj.path / "from-rev/images.json").read_text())
    assert again["images"][0]["probabilities"] == numbers["images"][0]["probabilities"]
