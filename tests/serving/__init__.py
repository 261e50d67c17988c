"""Tests of local serving: the inference contract, endpoints as processes, resilience."""
