"""The conversation and the loop: Harmony render/parse, model backends, the run loop, the CLI."""
