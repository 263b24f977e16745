"""DNA sequence encodings.

Sequences are stored as ``uint8`` codes ``A=0 C=1 G=2 T=3 N=4`` (one byte per base,
an ``N x L`` array for a data set). One-hot tensors are made on the fly, batch by
batch, with shape ``(B, 4, L)`` in ``ACGT`` order; ``N`` is all zeros (Xpresso's
convention).

One policy for every reader (FASTA/CSV sources, the genome source, ``predict``, VCF alleles):
``ACGT`` in either case are bases; ``N`` and the IUPAC ambiguity codes ``R Y S W K M B D H V``
(either case) become ``N`` (the readers count and log them per file); anything else (``U``,
``X``, ``-``, ``.``, digits, ...) is an error naming the character and its position.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"
N_CODE = 4
#: IUPAC ambiguity codes (besides N), read as N
AMBIGUOUS = "RYSWKMBDHV"
_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("ACGTN"):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i
for _c in AMBIGUOUS:
    _LUT[ord(_c)] = N_CODE
    _LUT[ord(_c.lower())] = N_CODE
_IS_AMBIGUOUS = np.zeros(256, dtype=bool)
_IS_AMBIGUOUS[[ord(c) for c in AMBIGUOUS + AMBIGUOUS.lower()]] = True
_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)
# complement of codes: A<->T, C<->G, N->N
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


class InvalidSequenceError(ValueError):
    """A sequence holds a character that is neither a base, N, nor an IUPAC ambiguity code.

    ``position`` is the 0-based offset of the first bad character and ``char`` the character.
    """

    def __init__(self, position: int, char: str):
        self.position = position
        self.char = char
        super().__init__(
            f"invalid character {char!r} at position {position + 1} (allowed: ACGT, "
            f"N and the IUPAC ambiguity codes RYSWKMBDHV, any case)"
        )


def encode(seq: str | bytes) -> np.ndarray:
    """Encode a DNA string to codes (IUPAC ambiguity codes become N, see the module docstring).

    Returns
    -------
    np.ndarray
        ``(L,)`` uint8 codes in ``0..4``.

    Raises
    ------
    InvalidSequenceError
        On any other character.
    """
    raw = np.frombuffer(seq.encode("ascii", errors="replace") if isinstance(seq, str) else seq, dtype=np.uint8)
    codes = _LUT[raw]
    bad = np.flatnonzero(codes == 255)
    if bad.size:
        pos = int(bad[0])
        raise InvalidSequenceError(pos, chr(raw[pos]) if raw[pos] < 128 else "?")
    return codes


def encode_bytes(raw: np.ndarray) -> np.ndarray:
    """Codes of an ``(n,)`` uint8 array of ASCII letters; 255 marks an invalid character."""
    return _LUT[raw]


def count_ambiguous(seq: str | bytes | np.ndarray) -> int:
    """Number of IUPAC ambiguity codes (other than N) in a sequence (read as N by :func:`encode`)."""
    raw = (
        seq
        if isinstance(seq, np.ndarray)
        else np.frombuffer(seq.encode("ascii", errors="replace") if isinstance(seq, str) else seq, dtype=np.uint8)
    )
    return int(_IS_AMBIGUOUS[raw].sum())


def decode(codes: np.ndarray) -> str:
    """Decode ``(L,)`` uint8 codes to an upper-case DNA string."""
    return _DECODE[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement codes along the last axis: ``(..., L)`` uint8 -> ``(..., L)`` uint8."""
    return _COMPLEMENT[np.asarray(codes)][..., ::-1].copy()


def reverse_complement(seq: str) -> str:
    """Reverse complement a DNA string (upper-case output; N stays N)."""
    return decode(reverse_complement_codes(encode(seq)))


def one_hot_numpy(codes: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """One-hot encode codes.

    Parameters
    ----------
    codes
        ``(B, L)`` or ``(L,)`` uint8 codes.

    Returns
    -------
    np.ndarray
        ``(B, 4, L)`` or ``(4, L)`` array of ``dtype``; N columns are all zero.
    """
    codes = np.asarray(codes)
    eye = np.concatenate([np.eye(4, dtype=dtype), np.zeros((1, 4), dtype=dtype)])  # (5, 4)
    out = eye[codes]  # (..., L, 4)
    return np.moveaxis(out, -1, -2).copy()


def one_hot_torch(codes, dtype=None):
    """One-hot encode a ``(B, L)`` integer tensor of codes on its own device.

    Returns a ``(B, 4, L)`` tensor (float32 unless ``dtype`` is given); N is all zero. The tensor is
    a channels-last view of the ``(B, L, 4)`` lookup (no copy): convolutions read it as fast as a
    contiguous copy or faster (``benchmarks/bench_cr_cost.py`` times both layouts).
    """
    import torch

    dtype = dtype or torch.float32
    codes = codes.long()
    eye = torch.cat(
        [torch.eye(4, dtype=dtype, device=codes.device), torch.zeros(1, 4, dtype=dtype, device=codes.device)]
    )
    return eye[codes].transpose(1, 2)
