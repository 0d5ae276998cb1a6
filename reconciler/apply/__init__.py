"""Apply: options and report, the engine, verification of outputs, adopt, and the backend a run talks to."""
