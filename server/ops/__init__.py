"""Running peerrooms: health and readiness, metrics."""
