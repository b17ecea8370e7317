"""``logcam experiment sacod`` (logcam.search.experiment, docs/search.md): fronts, the summary's comparisons,
bad input, and (slow) a whole tiny experiment."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from logcam.cli import main
from logcam.search.experiment import _front, _gap, run_sacod, sacod_config, steps, summarise

TINY = {"name": "tiny", "dataset": {"kind": "rgb_objects", "n": 60, "size": 16, "seed": 0}, "stem": 4,
        "channels": [4, 8], "strides": [1, 2], "epochs": 1, "retrain_epochs": 1, "batch": 16, "calib": 16}


def test_front_keeps_only_undominated_points_and_gap_reads_it() -> None:
    pts = [(1.0, 50.0), (2.0, 40.0), (2.0, 60.0), (3.0, 55.0), (4.0, 70.0)]
    front = _front(pts)
    assert front == [(1.0, 50.0), (2.0, 60.0), (4.0, 70.0)]
    assert _gap((2.5, 58.0), front) == pytest.approx(2.0)   # trails (2, 60) by 2 points
    assert _gap((4.0, 75.0), front) == pytest.approx(-5.0)  # beyond the front
    assert _gap((0.5, 10.0), front) is None                 # cheaper than anything on it


def _cell(method: str, cost: str, lam: object, nj: float, mf: float, acc: float, **kw: object) -> dict:
    return {"method": method, "cost": cost, "lam": lam, "width": kw.get("width", "-"),
            "mask": kw.get("mask", "trained"), "sigma_um": "-", "int8_acc_pct": acc, "nj_per_pixel": nj, "mflops": mf}


def test_summary_compares_with_the_baselines_and_the_other_cost() -> None:
    cfg = sacod_config({"lams": (0.0, 0.1), "ablation_lam": 0.1, "widths": (1.0,), "front_ends": ("gabor_mask",)})
    cells = [_cell("sacod", "energy", 0.0, 4.0, 0.4, 60.0), _cell("sacod", "flops", 0.0, 4.0, 0.4, 60.0),
             _cell("sacod", "energy", 0.1, 2.0, 0.2, 55.0), _cell("sacod", "flops", 0.1, 3.0, 0.25, 50.0),
             _cell("gabor_mask+search", "energy", 0.1, 2.5, 0.3, 50.0),
             _cell("gabor_mask+search", "energy", 0.0, 5.0, 0.5, 58.0),
             _cell("co-train", "-", "-", 4.0, 0.8, 57.0, width=1.0),
             _cell("ablation", "energy", 0.1, 2.0, 0.2, 52.0, mask="fixed in both")]
    s = summarise(cells, cfg)
    assert s["ours"]["vs_gabor"] == {"flops_pct": -33.33, "energy_pct": -20.0, "acc_pp": 5.0}
    assert s["ours"]["vs_cotrain"] == {"flops_pct": -75.0, "energy_pct": -50.0, "acc_pp": -2.0}
    assert s["ours"]["mask_fixed_costs_pp"] == 3.0
    assert s["sacod_trails_baselines_by_pp_nj_per_pixel"] == -3.0  # 60 % at 4 nJ vs the front's 57 %
    assert s["sacod_on_combined_front_nj_per_pixel"] == [(4.0, 60.0), (2.0, 55.0)]  # no baseline dominates either
    ef = s["energy_vs_flops"]
    assert ef["flops_points_dominated_by_energy"] == 1 and ef["energy_points_dominated_by_flops"] == 0
    assert s["paper"]["cifar10"]["vs_gabor"]["acc_pp"] == 1.58


@pytest.mark.parametrize(("args", "needle"), [
    (["--formats", "raw16"], "--formats"),
    (["--paper"], "--cifar"),
    (["--seeds", "0"], "seeds"),
    (["--jobs", "0"], "jobs"),
    (["--mask-init", "gaussian"], "--mask-init"),
    (["--device", "gpu"], "device"),
    (["--device", "cuda:7"] if torch.cuda.device_count() < 8 else ["--device", "cuda:99"], "device: cuda"),
])
def test_bad_sacod_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                            needle: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "sacod", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and needle in err


def test_jobs_and_device_belong_to_sacod_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "brightness", "--quick", "--jobs", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "--jobs/--device/--mask-init/--area" in err
    assert not (tmp_path / "o").exists()


def test_bad_lams_are_refused() -> None:
    from logcam.errors import ConfigError

    for data, needle in (({"lams": (0.0, -1.0)}, "lams"), ({"lams": (0.0,), "ablation_lam": 0.1}, "ablation_lam")):
        with pytest.raises(ConfigError, match=needle) as exc:
            sacod_config(data)
        assert len(str(exc.value).splitlines()) == 1


@pytest.mark.slow
def test_tiny_experiment_writes_csv_json_and_plot(tmp_path: Path) -> None:
    search = tmp_path / "tiny.yaml"
    search.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    cfg = sacod_config({"search": str(search), "n": 60, "epochs": 1, "retrain_epochs": 1, "lams": (0.0, 0.1),
                        "ablation_lam": 0.1, "widths": (0.5,), "sigmas": (0.1,), "finetune_epochs": 1})
    ticks: list[str] = []
    res = run_sacod(cfg, tmp_path / "o", tick=ticks.append)
    assert len(ticks) == steps(cfg) == 1 + 2 + 2 * 2 + 1 + 3
    rows = list(csv.DictReader(res.csv.open(encoding="utf-8")))
    methods = {r["method"] for r in rows}
    assert methods == {"sacod", "gabor_mask+search", "lens+search", "co-train", "ablation", "noise"}
    assert res.plot.stat().st_size > 0
    body = json.loads((tmp_path / "o" / "sacod.json").read_text(encoding="utf-8"))
    assert body["summary"]["paper"]["cifar10"]["vs_cotrain"]["flops_pct"] == -44.1 and len(body["runs"]) == len(rows)

    # the same experiment with its runs in 2 worker processes: the same runs, value for value, in the same order
    par = run_sacod(cfg.model_copy(update={"jobs": 2}), tmp_path / "p")
    def values(runs: list[dict[str, object]]) -> list[str]:  # JSON text: NaN equals NaN
        return [json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in runs]

    assert values(par.runs) == values(res.runs)


@pytest.mark.rtl
def test_area_grows_with_the_network_and_the_sensor_is_shared(tmp_path: Path) -> None:
    from logcam.search.experiment import Task, run_task

    search = tmp_path / "tiny.yaml"
    search.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    cfg = sacod_config({"search": str(search), "n": 60, "epochs": 1, "retrain_epochs": 1, "lams": (0.0,),
                        "ablation_lam": 0.0, "widths": (0.5, 2.0), "area": True})
    (narrow,), _, _ = run_task(cfg, Task(0, "co-train ×0.5", "cotrain", (0.5,)))
    (wide,), _, _ = run_task(cfg, Task(0, "co-train ×2", "cotrain", (2.0,)))
    assert 0 < narrow["accel_mm2"] < wide["accel_mm2"]  # 4× the channels: more cells, memories, multipliers
    sensor = [r["area_mm2"] - r["accel_mm2"] for r in (narrow, wide)]
    assert sensor[0] > 0 and sensor[0] == pytest.approx(sensor[1], rel=1e-12)  # the same masks, the same regions
