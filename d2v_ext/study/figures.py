"""PNG figures of a study, drawn from :func:`figure_data`, which reads only report.aggregate's output
(the numbers of the tables): per-task bars with seed-std error bars, every method's pretraining loss
curve, and the downstream score against pretraining updates."""
import logging
from pathlib import Path

from .report import METHOD_LABEL, TASK_TITLE


def figure_data(agg):
    """{"bars": {task: [(method, mean, std)]}, "pretraining": {...}, "budget": {method: [(u, mean, std)]}}."""
    bars = {task: [(m, r["mean"], r["std"]) for m, r in t["rows"].items()] for task, t in agg["tables"].items()}
    budget = {m: [tuple(p) for p in pts] for m, pts in agg["budget"].get("points", {}).items()} if agg["budget"] else {}
    return {"bars": bars, "pretraining": agg["pretraining"], "budget": budget}


def draw(agg, out_dir):
    """Write bars.png, pretraining.png and (with a budget curve) budget.png; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font search logs at DEBUG otherwise
    import matplotlib.pyplot as plt

    data, out_dir, written = figure_data(agg), Path(out_dir), []
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = list(data["bars"])
    if tasks:
        fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.6), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            ms, means, stds = zip(*data["bars"][task])
            ax.bar(range(len(ms)), means, yerr=stds, capsize=3, color="#4c72b0")
            floor = agg["tables"][task]["floor"]
            ax.axhline(floor[1], color="gray", ls="--", lw=1, label=floor[0])
            ax.set_xticks(range(len(ms)), [METHOD_LABEL[m] for m in ms], rotation=60, ha="right", fontsize=7)
            ax.set_title(TASK_TITLE[task], fontsize=7)
            ax.legend(fontsize=6)
        fig.tight_layout()
        written.append(out_dir / "bars.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if data["pretraining"]:
        names = list(data["pretraining"])
        fig, axes = plt.subplots(1, len(names), figsize=(2.8 * len(names), 2.6), squeeze=False)
        for ax, name in zip(axes[0], names):  # one panel each: the objectives' losses are not comparable
            pts = data["pretraining"][name]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts])
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("updates", fontsize=7)
        fig.tight_layout()
        written.append(out_dir / "pretraining.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if data["budget"]:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for m, pts in data["budget"].items():
            us, means, stds = zip(*pts)
            ax.errorbar(us, means, yerr=stds, marker="o", capsize=3, label=METHOD_LABEL[m])
        ax.set_xlabel("pretraining updates (0 = random init)")
        ax.set_title(TASK_TITLE[agg["budget"]["task"]], fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(out_dir / "budget.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
