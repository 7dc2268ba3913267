"""Control tasks on gymnasium environments (optional package)."""

from __future__ import annotations

from experiments.tasks.base import TaskUnavailable


def cartpole_factory():
    """A zero-argument factory of ``CartPole-v1`` environments (pure Python, no download)."""
    try:
        import gymnasium
    except ImportError:
        raise TaskUnavailable(
            "task 'cartpole' needs gymnasium: pip install gymnasium (or the [data] extra)"
        ) from None

    def make():
        return gymnasium.make("CartPole-v1")

    return make
