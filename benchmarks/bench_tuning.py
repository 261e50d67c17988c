"""The local tuner against random search on the same budget, measured in the same run.

Each run is a real local tuning job (a detached tuner, every trial a local training job
with its own supervisor), as ``%%sm_tune`` starts it. The training script prints an
objective that is a known function of its hyperparameters (the Branin function, negated:
its best is about -0.398, reached at three points), so the only thing that differs between
the two arms is the search. Both arms get the same trials, parallelism and seeds:

* ``bayesian``: the default strategy (Optuna's TPE after a few random trials);
* ``random``: ``--strategy random``, the baseline.

Printed: for each seed, the best objective each arm found after N trials, and the median
over seeds of the regret (distance to the known optimum), with their ratio.

Run: ``.venv/bin/python benchmarks/bench_tuning.py [--trials 20] [--parallel 4] [--seeds 3]``
(about a minute per arm and seed on two cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

OPTIMUM = -0.397887  # max of -branin(x1, x2)
SCRIPT = """
import argparse, math
p = argparse.ArgumentParser()
p.add_argument("--x1", type=float)
p.add_argument("--x2", type=float)
a, _ = p.parse_known_args()
b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
value = (a.x2 - b * a.x1 ** 2 + c * a.x1 - 6) ** 2 + 10 * (1 - t) * math.cos(a.x1) + 10
print(f"objective={-value:.6f}")
"""


def _run(strategy: str, seed: int, trials: int, parallel: int) -> tuple[float, float]:
    from sm_magics.backends.local.engine import LocalBackend
    from sm_magics.backends.specs import TrainingSpec
    from sm_magics.ledger import Ledger
    from sm_magics.tuning import ranges
    from sm_magics.tuning.spec import TuningSpec

    name = f"bench-{strategy}-{seed}"
    training = TrainingSpec(
        name=name,
        entry_point="train.py",
        script=SCRIPT,
        metric_definitions={"objective": r"objective=([-0-9.]+)"},
    )
    spec = TuningSpec(
        name,
        training,
        "objective",
        ranges.parse_ranges(["x1=-5:10", "x2=0:15"]),
        strategy="Random" if strategy == "random" else "Bayesian",
        max_jobs=trials,
        max_parallel=parallel,
        random_seed=seed,
    )
    tuning = LocalBackend(ledger=Ledger())
    start = time.perf_counter()
    tuning.create_tuning_job(spec)
    while True:
        description = tuning.describe_tuning_job(name)
        if description["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    best = description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    return float(best["Value"]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    os.environ["SM_MAGICS_HOME"] = tempfile.mkdtemp(prefix="bench-tuning-")
    os.environ.setdefault("SM_MAGICS_MAX_LOCAL_JOBS", str(args.parallel))
    print(
        f"Branin (negated, optimum {OPTIMUM}), {args.trials} trials, {args.parallel} in "
        f"parallel, seeds 0..{args.seeds - 1}; python {sys.version.split()[0]}"
    )
    regrets: dict[str, list[float]] = {"bayesian": [], "random": []}
    for seed in range(args.seeds):
        for strategy in ("bayesian", "random"):
            best, elapsed = _run(strategy, seed, args.trials, args.parallel)
            regrets[strategy].append(OPTIMUM - best)
            print(
                f"  seed {seed} {strategy:8s} best {best:9.4f}  regret {OPTIMUM - best:8.4f}"
                f"  ({elapsed:.1f} s)"
            )
    bayes = statistics.median(regrets["bayesian"])
    rand = statistics.median(regrets["random"])
    print(
        f"median regret: bayesian {bayes:.4f}, random {rand:.4f}; "
        f"random/bayesian = {rand / bayes if bayes > 0 else float('inf'):.2f}x"
    )
    print(f"home: {Path(os.environ['SM_MAGICS_HOME'])}")


if __name__ == "__main__":
    main()
