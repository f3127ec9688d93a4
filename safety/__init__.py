"""Safety: prompt/frame/audio classifiers, hash banks, policy thresholds, statements of reasons."""
