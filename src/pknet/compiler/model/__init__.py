"""The model compiler: layers, model kinds, losses and optimisers, assembled into a `Program`."""
