"""Sequence encodings: codes, reverse complement, one-hot (numpy and torch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from promoter_cr.seq.encoding import (
    InvalidSequenceError,
    count_ambiguous,
    decode,
    encode,
    one_hot_numpy,
    one_hot_torch,
    reverse_complement,
    reverse_complement_codes,
)


def test_encode_decode_roundtrip_any_case():
    codes = encode("ACGTNacgtn")
    assert codes.dtype == np.uint8
    assert codes.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert decode(codes) == "ACGTNACGTN"


@pytest.mark.parametrize("seq, pos, char", [("ACGTX", 5, "X"), ("AC-GT", 3, "-"), ("ACG T", 4, " ")])
def test_invalid_character_reports_position(seq, pos, char):
    with pytest.raises(InvalidSequenceError) as err:
        encode(seq)
    assert err.value.position == pos - 1 and err.value.char == char
    assert f"position {pos}" in str(err.value)


def test_reverse_complement():
    assert reverse_complement("AACGTN") == "NACGTT"
    codes = np.array([[0, 1, 2, 3, 4], [0, 0, 0, 1, 1]], dtype=np.uint8)
    rc = reverse_complement_codes(codes)
    assert decode(rc[0]) == "NACGT" and decode(rc[1]) == "GGTTT"


def test_one_hot_numpy_and_torch_agree_and_n_is_zero():
    import torch

    codes = np.array([[0, 1, 2, 3, 4, 2]], dtype=np.uint8)
    oh = one_hot_numpy(codes)
    assert oh.shape == (1, 4, 6)
    assert oh[0, :, 4].sum() == 0
    assert oh[0, :, :4].argmax(0).tolist() == [0, 1, 2, 3]
    th = one_hot_torch(torch.from_numpy(codes))
    assert th.shape == (1, 4, 6) and th.dtype == torch.float32
    np.testing.assert_array_equal(th.numpy(), oh)


def test_encode_bytes_and_roundtrip():
    codes = encode("ACGTNacgtn")
    assert codes.dtype == np.uint8 and list(codes) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert decode(codes) == "ACGTNACGTN"
    assert list(encode(b"GATTACA")) == [2, 0, 3, 3, 0, 1, 0]


def test_iupac_ambiguity_codes_are_read_as_n_and_counted():
    """One policy for every reader: IUPAC ambiguity codes become N (and are counted)."""
    assert decode(encode("ACRYSWKMBDHVnryswkmbdhv")) == "AC" + "N" * 21
    assert count_ambiguous("ACRYnN") == 2 and count_ambiguous("ryS") == 3 and count_ambiguous(b"ACGT") == 0


@pytest.mark.parametrize(
    ("seq", "pos", "char"), [("ACGU", 3, "U"), ("X", 0, "X"), ("AC GT", 2, " "), ("AC-G", 2, "-"), ("ACé", 2, "?")]
)
def test_encode_rejects_other_characters(seq, pos, char):
    with pytest.raises(InvalidSequenceError) as info:
        encode(seq)
    assert info.value.position == pos and info.value.char == char
    assert f"position {pos + 1}" in str(info.value)


def test_reverse_complement_blocks_and_involution():
    assert reverse_complement("AACGTN") == "NACGTT"
    block = np.stack([encode("AACG"), encode("TTNC")])
    rc = reverse_complement_codes(block)
    assert [decode(r) for r in rc] == ["CGTT", "GNAA"]
    assert np.array_equal(reverse_complement_codes(rc), block)


def test_one_hot_values_and_shapes():
    codes = np.stack([encode("ACGTN"), encode("NNAAT")])
    oh = one_hot_numpy(codes)
    assert oh.shape == (2, 4, 5) and oh.dtype == np.float32
    assert np.array_equal(
        oh[0], np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]], dtype=np.float32)
    )
    assert oh[0, :, 4].sum() == 0 and oh[1, :, :2].sum() == 0  # N is all zero
    assert np.array_equal(oh.sum(axis=1), (codes < 4).astype(np.float32))
    ot = one_hot_torch(torch.from_numpy(codes))
    assert ot.shape == (2, 4, 5) and np.array_equal(ot.numpy(), oh)
    assert one_hot_numpy(codes[0]).shape == (4, 5)
