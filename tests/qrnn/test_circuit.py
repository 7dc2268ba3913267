"""BlockSpec: validation, entangler layouts, bad input."""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec, check_inputs, check_weights


def test_qlstm_block_matches_paper_counts():
    spec = BlockSpec(4, 2, "qlstm", "ring2", "rot")
    # 4 qubits x 3 angles x 2 layers; 4 ring + 4 distance-2 CNOTs per layer
    assert spec.weight_shape == (2, 4, 3)
    ring, ring2 = ((0, 1), (1, 2), (2, 3), (3, 0)), ((0, 2), (1, 3), (2, 0), (3, 1))
    assert spec.entangler_pairs() == ring + ring2
    assert spec.output_size == 4


@pytest.mark.parametrize(
    ("n", "entangler", "expected"),
    [
        (1, "ring", ()),
        (2, "ring", ((0, 1), (1, 0))),
        (2, "ring2", ((0, 1), (1, 0))),  # distance 2 wraps onto the same qubit: skipped
        (5, "brick", ((0, 1), (2, 3), (1, 2), (3, 4))),
        (3, "none", ()),
    ],
)
def test_entangler_pairs(n, entangler, expected):
    assert BlockSpec(n, 1, entangler=entangler).entangler_pairs() == expected


def test_probs_output_size_and_measured_order():
    spec = BlockSpec(5, 1, measurement="probs", measured=[3, 1])
    assert spec.measured == (3, 1) and spec.output_size == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_qubits": 0}, "n_qubits=0 must be >= 1"),
        ({"n_qubits": 2, "n_layers": -1}, "n_layers=-1"),
        ({"n_qubits": 2.0}, "n_qubits must be an int"),
        ({"n_qubits": 2, "encoding": "amplitude"}, "encoding='amplitude' is not allowed"),
        ({"n_qubits": 2, "entangler": "all"}, "entangler='all'"),
        ({"n_qubits": 2, "rotation": "u3"}, "rotation='u3'"),
        ({"n_qubits": 2, "measurement": "x"}, "measurement='x'"),
        ({"n_qubits": 2, "measured": (0, 2)}, r"measured=\(0, 2\) must be distinct"),
        ({"n_qubits": 2, "measured": (1, 1)}, "distinct"),
    ],
)
def test_bad_spec_names_field_and_allowed(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BlockSpec(**kwargs)


def test_bad_inputs_and_weights_name_expected_shape():
    spec = BlockSpec(3, 2, rotation="ry")
    expected_x = r"x has shape \(4, 2\); expected \(3,\) or \(batch>=1, 3\)"
    with pytest.raises(ValueError, match=expected_x):
        check_inputs(spec, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"expected \(2, 3, 1\) \(shared\)"):
        check_weights(spec, torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="weights contains NaN"):
        check_weights(spec, torch.full((2, 3, 1), float("nan")))
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        check_inputs(spec, torch.tensor([0.0, float("inf"), 1.0]))
    with pytest.raises(TypeError, match="x has dtype torch.int64"):
        check_inputs(spec, torch.zeros(3, dtype=torch.int64))


def test_huge_finite_values_are_not_mistaken_for_infinite():
    spec = BlockSpec(2, 0)
    x = torch.tensor([1e308, 1e308], dtype=torch.float64)  # sum overflows, entries are finite
    assert check_inputs(spec, x) is x


def test_init_weights_seeded_and_scaled():
    spec = BlockSpec(4, 2)
    a = spec.init_weights(torch.Generator().manual_seed(3))
    b = spec.init_weights(torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == spec.weight_shape
    assert 0.001 < a.std().item() < 0.03  # 0.01 * N(0, 1) over 24 draws
