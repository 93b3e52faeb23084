"""The encounter graph and its runner."""
