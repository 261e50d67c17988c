"""The local backend: the SageMaker container contract with plain processes, no Docker.

``engine`` is the :class:`~sm_magics.backends.base.Backend` the kernel talks to;
``supervisor`` is the detached process that runs one job; the other modules are the
pieces of the contract they share (job folder, environment, logs, slots, venvs).
"""
