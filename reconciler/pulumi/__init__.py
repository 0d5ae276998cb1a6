"""The Pulumi dynamic provider and the engine it drives; the only package that imports pulumi."""
