"""The deploy layer: the topology file, compose rendering, local processes, server binaries and generated secrets."""
