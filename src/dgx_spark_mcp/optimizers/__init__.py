"""Spark intelligence: configuration sizing for CPU and RAPIDS GPU clusters."""
