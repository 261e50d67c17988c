"""--range parsing, the tuning spec's rules and the SageMaker ParameterRanges shape."""

from __future__ import annotations

import pytest

from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest
from sm_magics.tuning import ranges
from sm_magics.tuning.spec import TuningSpec, parse_early_stopping, parse_strategy, trial_name


def _training(**kw: object) -> TrainingSpec:
    return TrainingSpec(
        name="tune",
        entry_point="train.py",
        script="print(1)",
        metric_definitions={"auc": r"auc=([0-9.]+)"},
        **kw,  # type: ignore[arg-type]
    )


def test_the_three_forms_and_their_scaling() -> None:
    lr = ranges.parse_range("lr=1e-4:1e-1:log")
    depth = ranges.parse_range("depth=3..10")
    booster = ranges.parse_range("booster=gbtree,dart,gbtree")
    assert lr == ranges.ContinuousRange("lr", 1e-4, 1e-1, "Logarithmic")
    assert depth == ranges.IntegerRange("depth", 3, 10, "Auto")
    assert booster == ranges.CategoricalRange("booster", ("gbtree", "dart"))
    shape = ranges.to_parameter_ranges([lr, depth, booster])
    assert shape == {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
        ],
        "IntegerParameterRanges": [
            {"Name": "depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}
        ],
        "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
    }
    assert ranges.from_parameter_ranges(shape) == [lr, depth, booster]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr", "KEY=LO:HI"),
        ("lr=", "KEY=LO:HI"),
        ("lr=a:b", "not a number"),
        ("lr=0.5:0.1", "LOW must be below HIGH"),
        ("lr=0:1:log", "above 0"),
        ("lr=0:2:reverse-log", "HIGH < 1"),
        ("lr=0:1:cubic", "unknown scaling"),
        ("lr=nan:1", "finite"),
        ("depth=10..3", "above HIGH"),
        ("depth=1.5..3", "not an integer"),
        ("depth=1..3:reverse-log", "continuous ranges only"),
        ("opt=adam", "at least two values"),
        ("opt=" + ",".join(str(i) for i in range(31)), "at most 30"),
        ("1bad=1:2", "not a hyperparameter name"),
    ],
)
def test_bad_ranges_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        ranges.parse_range(text)


def test_a_name_twice_and_none_at_all_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="twice: lr"):
        ranges.parse_ranges(["lr=0:1", "lr=1..3"])
    with pytest.raises(InvalidRequest, match="at least one --range"):
        ranges.parse_ranges([])


def test_spec_rules_are_sagemakers() -> None:
    rng = ranges.parse_ranges(["lr=1e-4:1e-1:log"])
    with pytest.raises(InvalidRequest, match="must be one of the --metric names"):
        TuningSpec("tune", _training(), "loss", rng)
    with pytest.raises(InvalidRequest, match="both as --hp and as --range"):
        TuningSpec("tune", _training(hyperparameters={"lr": 0.1}), "auc", rng)
    with pytest.raises(InvalidRequest, match="1-32 letters"):
        TuningSpec("t" * 33, _training(), "auc", rng)
    with pytest.raises(InvalidRequest, match="more than --max-jobs"):
        TuningSpec("tune", _training(), "auc", rng, max_jobs=2, max_parallel=3)
    with pytest.raises(InvalidRequest, match="hyperband stops poor trials itself"):
        TuningSpec("tune", _training(), "auc", rng, strategy="Hyperband", early_stopping="Auto")
    with pytest.raises(InvalidRequest, match="categorical ranges only"):
        TuningSpec("tune", _training(), "auc", rng, strategy="Grid")


def test_grid_runs_every_combination() -> None:
    rng = ranges.parse_ranges(["a=1,2,3", "b=x,y"])
    spec = TuningSpec("tune", _training(), "auc", rng, strategy="Grid")
    assert spec.max_jobs == 6
    with pytest.raises(InvalidRequest, match="leave out --max-jobs"):
        TuningSpec("tune", _training(), "auc", rng, strategy="Grid", max_jobs=4)


def test_spec_round_trips_through_json_and_names_trials_as_sagemaker() -> None:
    spec = TuningSpec(
        "tune",
        _training(hyperparameters={"epochs": 3}),
        "auc",
        ranges.parse_ranges(["lr=1e-4:1e-1:log", "depth=3..10", "booster=gbtree,dart"]),
        objective_type="Minimize",
        max_jobs=20,
        max_parallel=4,
        strategy="Random",
        early_stopping="Auto",
        warm_start=["parent"],
        random_seed=7,
    )
    again = TuningSpec.from_json(spec.to_json())
    assert again == spec
    trial = spec.trial_training_spec(0, {"lr": 0.01, "depth": 4, "booster": "dart"})
    assert trial.name == trial_name("tune", 0, {"lr": 0.01, "depth": 4, "booster": "dart"})
    assert trial.name.startswith("tune-001-") and len(trial.name) == len("tune-001-") + 8
    assert trial.hyperparameters == {"epochs": 3, "lr": 0.01, "depth": 4, "booster": "dart"}
    assert trial.tags["sm-magics:tuning-job"] == "tune"


def test_strategy_and_early_stopping_words() -> None:
    assert parse_strategy("Bayesian") == "Bayesian"
    assert parse_strategy("hyperband") == "Hyperband"
    assert parse_early_stopping("AUTO") == "Auto"
    with pytest.raises(InvalidRequest, match="choose bayesian"):
        parse_strategy("annealing")
    with pytest.raises(InvalidRequest, match="choose auto or off"):
        parse_early_stopping("sometimes")


def test_categorical_values_keep_their_json_type() -> None:
    assert ranges.decode_value("3") == 3
    assert ranges.decode_value("0.5") == 0.5
    assert ranges.decode_value("true") is True
    assert ranges.decode_value("gbtree") == "gbtree"
