"""Use cases: agents, runs, threads and the worker, over the store, runtime and engine."""
