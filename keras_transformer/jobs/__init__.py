"""Whole runs: the jobs behind `keras-transformer train` and `examples/`.

A job composes data, models, training, decoding and evaluation into one run
with a `main(argv)` entry point; the command line and the example scripts
call the same function, so there is one copy of each run.
"""
