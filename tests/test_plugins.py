"""Bring your own method: plugins are run, checked and gapped like built-in methods; broken ones are rows.

The worked example of docs/plugins.md is executed here, as a user would run it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import solvers
from solvers.plugins import register, register_entry_points
from solvers.result import Status
from validation.compare import compare_paths, run
from validation.rows import ROW_FIELDS

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


def doc_example() -> str:
    """The greedy heuristic of docs/plugins.md (its first Python block)."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.fixture()
def plugin_dir(tmp_path, monkeypatch):
    (tmp_path / "my_greedy.py").write_text(doc_example())
    (tmp_path / "bad_plugins.py").write_text(textwrap.dedent('''
        import time

        def boom(instance, time_limit=None):
            raise RuntimeError("kaput")

        def junk(instance, time_limit=None):
            return 42

        def two_on_one(instance, time_limit=None):
            return {"assignment": [0] * instance.M, "bandwidth_hz": [instance.bandwidth_hz] * instance.K}

        def hang(instance, time_limit=None):
            time.sleep(3600)

        def p1_only(instance, time_limit=None):
            return {"assignment": list(range(instance.M))}
        p1_only.problems = ("P1",)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    yield tmp_path
    for key in [k for k in solvers.REGISTRY if ":" in k[1]]:      # leave the registry as it was
        del solvers.REGISTRY[key]
        solvers.PLUGINS.discard(key)


def cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "validation.compare", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_doc_example_runs_from_the_command_line(plugin_dir):
    out = cli(TINY, "--solvers", "my_greedy:greedy,crunch,exact", "--format", "json", "--time-limit", "10",
              cwd=plugin_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [r for r in json.loads(out.stdout)["rows"] if r["solver"] == "my_greedy:greedy"]
    assert {r["problem"] for r in rows} == {"P1", "P2"} and len(rows) == 2 * 4
    for r in rows:
        assert r["status"] == "feasible" and r["gap"] is not None and r["gap"] >= -1e-9, r
    methods = json.loads(out.stdout)["summary"]["methods"]
    mine = [m for m in methods if m["solver"] == "my_greedy:greedy"]
    assert all(m["gapped"] == 4 and m["check_failed"] == 0 for m in mine), mine


def test_python_api_returns_the_rows_as_a_frame(plugin_dir):
    frame = run([TINY], solvers=["my_greedy:greedy", "crunch"], problems=["P1"], time_limit=10)
    assert list(frame.columns) == list(ROW_FIELDS)
    assert set(frame["solver"]) == {"my_greedy:greedy", "crunch"} and frame.attrs["exit_code"] == 0
    assert (frame.loc[frame["solver"] == "crunch", "gap"] == 0).all()


def test_broken_plugins_are_error_rows_and_the_others_still_run(plugin_dir):
    names = ["crunch", "bad_plugins:boom", "bad_plugins:junk", "bad_plugins:two_on_one", "nowhere:f"]
    report = compare_paths([TINY / "tiny-hand-made.json"], solvers=names, problems=["P1"], time_limit=5)
    by = {r["solver"]: r for r in report.rows}
    assert by["crunch"]["status"] == "optimal"
    assert by["bad_plugins:boom"]["status"] == "error" and "RuntimeError: kaput" in by["bad_plugins:boom"]["message"]
    assert by["bad_plugins:junk"]["status"] == "error" and "returned int" in by["bad_plugins:junk"]["message"]
    assert by["nowhere:f"]["status"] == "error" and "cannot import 'nowhere'" in by["nowhere:f"]["message"]
    assert any("bad_plugins:two_on_one: C2:" in line for line in report.issues), report.issues
    assert report.exit_code == 1


def test_hanging_plugin_is_killed_and_the_sweep_goes_on(plugin_dir):
    report = compare_paths([TINY / "tiny-hand-made.json"], solvers=["bad_plugins:hang", "crunch"],
                           problems=["P1"], time_limit=0.2)
    by = {r["solver"]: r for r in report.rows}
    assert by["bad_plugins:hang"]["status"] == "time_limit" and "outer guard" in by["bad_plugins:hang"]["message"]
    assert by["crunch"]["status"] == "optimal"


def test_a_plugin_declares_its_problems(plugin_dir):
    report = compare_paths([TINY / "tiny-hand-made.json"], solvers=["bad_plugins:p1_only"], time_limit=5)
    assert [(r["problem"], r["status"]) for r in report.rows] == [("P1", "feasible")]


def test_entry_point_plugins_register_and_a_broken_one_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "my_greedy.py").write_text(doc_example())
    info = tmp_path / "fake_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[deft_matching.solvers]\nmy-greedy = my_greedy:greedy\n"
                                           "broken = not_there:f\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: dict = {}
    added = register_entry_points(registry)
    assert {("P1", "my-greedy"), ("P2", "my-greedy"), ("P1", "broken"), ("P2", "broken")} <= set(added)
    inst = __import__("instances").load_instance(TINY / "tiny-hand-made.json")
    assert registry[("P2", "my-greedy")](inst).status == Status.FEASIBLE
    res = registry[("P1", "broken")](inst)
    assert res.status == Status.ERROR and "not_there" in res.message
    # and in a fresh process, the registry and --help list it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    out = subprocess.run([sys.executable, "-m", "validation.compare", "--help"], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert "my-greedy" in out.stdout, out.stdout + out.stderr


def test_register_helper_on_a_plain_dict():
    registry: dict = {}
    keys = register(registry, "x:y", fn=lambda inst, time_limit=None: {"assignment": None})
    assert keys == [("P1", "x:y"), ("P2", "x:y")]
    assert registry[("P1", "x:y")](None).status == Status.NO_SOLUTION
