"""Running networks: devices and precisions, timing, inference, the fast path, benchmarks, weights, images."""
