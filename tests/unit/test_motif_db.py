"""Motif loading: JASPAR offline through pyjaspar, MEME files in and out, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from promoter_cr.config import section_defaults
from promoter_cr.errors import InputDataError
from promoter_cr.seq.motifs import load_jaspar, load_jaspar_ids, load_motifs, read_meme, write_meme


def test_jaspar_ids_offline_and_probabilities():
    motifs = load_jaspar_ids("JASPAR2024", ["MA0079.5", "MA0060"])
    assert [m.motif_id for m in motifs] == ["MA0060.4", "MA0079.5"]
    sp1 = motifs[1]
    assert sp1.name == "SP1" and sp1.pwm.shape == (4, 9)
    np.testing.assert_allclose(sp1.pwm.sum(0), 1.0)
    # SP1's core is GC-rich: the consensus holds mostly G/C
    consensus = "".join("ACGT"[i] for i in sp1.pwm.argmax(0))
    assert sum(c in "GC" for c in consensus) >= 7
    np.testing.assert_allclose(sp1.reverse_complement()[:, 0], sp1.pwm[::-1, -1])


def test_jaspar_collection_filter_and_unknown_id():
    vert = load_jaspar(release="JASPAR2024", collection="CORE", tax_group=["vertebrates"], ids=None, non_redundant=True)
    assert len(vert) > 800
    assert len({m.motif_id.split(".")[0] for m in vert}) == len(vert)  # non-redundant
    with pytest.raises(ValueError, match="MA9999.1"):
        load_jaspar_ids("JASPAR2024", ["MA9999.1"])


def test_meme_roundtrip(tmp_path):
    motifs = load_jaspar_ids("JASPAR2024", ["MA0139.2", "MA0095.4"])
    write_meme(motifs, tmp_path / "m.meme")
    back = load_motifs({**section_defaults("motifs"), "meme_file": str(tmp_path / "m.meme")})
    assert [m.motif_id for m in back] == [m.motif_id for m in motifs]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.pwm, b.pwm, atol=1e-5)
        assert a.name == b.name


@pytest.mark.parametrize(
    "text, match",
    [
        ("MEME version 4\n", "no motifs"),
        (
            "MEME version 4\nMOTIF m1 X\nletter-probability matrix: "
            "alength= 4 w= 2\n0.1 0.2 0.7\n0.25 0.25 0.25 0.25\n",
            "3 columns",
        ),
        ("MEME version 4\nMOTIF m1 X\nletter-probability matrix: alength= 4 w= 1\n0.1 a 0.2 0.7\n", "non-numeric"),
        ("MEME version 4\nMOTIF m1\nMOTIF m2\n", "no letter-probability"),
    ],
)
def test_malformed_meme_names_file_and_motif(tmp_path, text, match):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(InputDataError, match=match) as err:
        read_meme(path)
    assert "bad.meme" in str(err.value)
