"""routing.simulate.run."""
