"""Hyperparameter tuning: ranges, the tuning spec, the search and the local tuning loop.

Backend-neutral: the sagemaker backend sends the spec as a CreateHyperParameterTuningJob;
the local backend runs :mod:`.loop` in a detached tuner process, where :mod:`.search`
(Optuna, an optional dependency) is imported. Nothing here is imported by ``%load_ext``.
"""
