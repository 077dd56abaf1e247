import os
import subprocess
import sys
from pathlib import Path

from featuremaps.errors import first_line

ROOT = Path(__file__).resolve().parents[1]


def test_first_line_of_a_library_message():
    assert first_line(ValueError("\n  bad header  \nsecond line")) == "bad header"
    assert first_line(EOFError()) == "EOFError"
    assert first_line(OSError("x" * 500)) == "x" * 200


def test_a_stage_logs_where_its_time_went():
    """run_stage's last line splits the process's life into its start (Python and the imports) and
    main(): a stand-in that spends 1 s importing and 0.5 s working says at least that, and no
    more than the parent saw the whole process take."""
    import re
    import subprocess
    import sys
    import time
    from pathlib import Path
    stage = ("import time; time.sleep(1.0)\n"
             "from featuremaps.stage import run_stage\n"
             "run_stage(lambda: time.sleep(0.5))\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    begin = time.perf_counter()
    log = subprocess.run([sys.executable, "-c", stage], env={"PYTHONPATH": src}, capture_output=True, text=True,
                         check=True, timeout=300).stderr
    whole = time.perf_counter() - begin
    start, run = map(float, re.fullmatch(r"featuremaps: peak memory \d+ MiB; ([\d.]+) s to start, ([\d.]+) s to run\n",
                                         log).groups())
    assert start >= 1.0 and run >= 0.5
    assert start + run <= whole + 0.1  # the log rounds to 0.1 s


def test_a_stages_peak_memory_is_its_own_not_the_spawning_processs():
    """Linux carries ru_maxrss over exec from the spawning process: a stage started by a large
    process (a test runner with torch loaded) would report that process's peak as its own."""
    big = bytearray(300 << 20)
    for i in range(0, len(big), 4096):
        big[i] = 1
    code = "from featuremaps.stage import peak_memory_mib; print(peak_memory_mib())"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                 check=True).stdout)
    assert child < 200, child  # the child's own few tens of MiB, not the 300 MiB its parent touched
    del big
