"""The cluster layer: where cluster facts come from (``ClusterSource`` and its transports), connections, apply."""
