"""benchmark.py --quick computes every field of its table (the numbers themselves are timings: not
asserted), for recipes of each kind, with --compare's two paths in one process; bad arguments."""
import json

import pytest

from helpers import run_script

pytestmark = pytest.mark.e2e
benchmark = run_script("benchmark.py")


def test_quick_compare_fills_every_field(tmp_path):
    rc, out = benchmark("--quick", "--compare", "--recipes", "text_v2,vision_v1,image_v2", "--work", tmp_path,
                        "--out", tmp_path / "b.json", "--md", tmp_path / "b.md")
    assert rc == 0, out[-3000:]
    res = json.loads((tmp_path / "b.json").read_text())
    assert set(res) == {"text_v2:tiny", "vision_v1:tiny", "image_v2:tiny"}
    for key, modes in res.items():
        assert set(modes) == {"upstream", "fast"}, key
        assert modes["upstream"]["fast_paths"] == [] and modes["fast"]["fast_paths"] == ["ema", "sdpa"]
        for r in modes.values():
            assert r["step"] > 0 and r["throughput"] > 0 and r["params"] > 1e5 and r["peak_mb"] > 100, key
            assert r["gflop_per_step"] > 0 and r["device"] == "cpu" and r["items_per_step"] > 0
            assert r["student"] > 0 and r["optimizer"] > 0 and r["data"] >= 0
            assert r["ema"] > 0 and r["teacher"] > 0, (key, r)  # every one of these has an EMA teacher
            assert r["unit"] == ("tokens" if key.startswith("text") else "images")
            assert r["first_step"] > 0
    md = (tmp_path / "b.md").read_text()
    assert md.count("**fast / upstream**") == 3 and "| vision_v1 | tiny |" in md and "teacher fwd ms" in md


def test_fast_names_the_fast_paths_of_the_fast_path(tmp_path):
    rc, out = benchmark("--quick", "--recipes", "mlm", "--fast", "ema", "--work", tmp_path, "--out", tmp_path / "b.json")
    assert rc == 0, out[-3000:]
    res = json.loads((tmp_path / "b.json").read_text())["mlm:tiny"]["fast"]
    assert res["fast_paths"] == ["ema"] and res["step"] > 0 and res["student"] > 0 and res["unit"] == "tokens"
    assert res["ema"] == 0 and res["teacher"] == 0  # the MLM baseline has no teacher


def test_bad_arguments():
    rc, out = benchmark("--fast", "ema,warp")
    assert rc == 2 and "--fast: unknown ['warp']" in out
    rc, out = benchmark("--recipes", "nope")
    assert rc == 2 and "--recipes: unknown ['nope']" in out
    rc, out = benchmark("--sizes", "huge")
    assert rc == 2 and "--sizes: expected tiny, base or tiny,base" in out
