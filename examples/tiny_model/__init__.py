"""The tiny Harmony-speaking model: synthetic task families, data generation and training."""
