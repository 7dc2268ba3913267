"""Control tasks on gymnasium environments (optional package).

CartPole-v1 observations are ``(cart position [m], cart velocity [m/s], pole angle [rad], pole
angular velocity [rad/s])``. The two velocities are unbounded and the angle never exceeds
0.21 rad, so raw observations feed a quantum encoding (``RY(arctan v)``, ``RY(v)``) either a
nearly constant angle (pole angle) or a saturated one. The task therefore divides each
observation by a fixed scale, :data:`CARTPOLE_OBS_SCALE`: the position and the angle by the
bounds where an episode terminates (2.4 m, 12 degrees = 0.2094 rad), the velocities by about
the 99th percentile of their magnitude under a random policy (1.5 m/s, 2.0 rad/s). Scaled
observations lie in [-1, 1] at termination and mostly within [-1.5, 1.5] before it. Every
model, classical or quantum, sees the same scaled observations.
"""

from __future__ import annotations

import math

from experiments.tasks.base import TaskUnavailable

CARTPOLE_OBS_SCALE = (2.4, 1.5, 12 * math.pi / 180, 2.0)
"""Divisors of CartPole-v1's (position, velocity, angle, angular velocity)."""


def cartpole_factory(scale: tuple[float, ...] | None = CARTPOLE_OBS_SCALE):
    """A zero-argument factory of ``CartPole-v1`` environments (pure Python, no download)
    whose observations are divided by ``scale`` (``None``: gymnasium's raw observations)."""
    try:
        import gymnasium
        import numpy as np
    except ImportError:
        raise TaskUnavailable(
            "task 'cartpole' needs gymnasium: pip install gymnasium (or the [data] extra)"
        ) from None

    if scale is None:
        return lambda: gymnasium.make("CartPole-v1")
    divisor = np.asarray(scale, dtype=np.float32)
    if divisor.shape != (4,) or not np.all(divisor > 0):
        raise ValueError(f"scale={scale!r}: must be 4 positive numbers (one per observation)")

    class ScaledObservation(gymnasium.ObservationWrapper):
        """Observations divided by ``divisor``; the observation space scaled alike."""

        def __init__(self, env):
            super().__init__(env)
            space = env.observation_space
            self.observation_space = gymnasium.spaces.Box(
                space.low / divisor, space.high / divisor, dtype=np.float32)

        def observation(self, observation):
            return (observation / divisor).astype(np.float32)

    def make():
        return ScaledObservation(gymnasium.make("CartPole-v1"))

    return make
