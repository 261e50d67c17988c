"""Backends: where jobs run. See :mod:`sm_magics.backends.base` for the contract."""
