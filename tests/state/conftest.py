"""The state tests use the apply tests' local server and backend (one definition of each, in tests/apply)."""

from tests.apply.conftest import backend, server  # noqa: F401  (pytest fixtures, registered by import)
