"""A model of the user's own under the real dvc, from the finished baseline: train and extract rerun
on it, and models/ is train's dependency."""
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
