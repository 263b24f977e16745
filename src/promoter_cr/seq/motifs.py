"""Motif databases: JASPAR through pyjaspar (offline) or a user's MEME file.

A motif is a :class:`Motif` with a ``(4, w)`` float64 position probability
matrix in ``ACGT`` order (columns sum to 1), the form memelite's FIMO takes
(it adds its own pseudocount and log-odds against a uniform background).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promoter_cr.errors import InputDataError


@dataclass(frozen=True)
class Motif:
    """A motif: JASPAR matrix id (or MEME name), TF name, ``(4, w)`` probability matrix."""

    motif_id: str
    name: str
    pwm: np.ndarray

    @property
    def width(self) -> int:
        return int(self.pwm.shape[1])

    def reverse_complement(self) -> np.ndarray:
        """``(4, w)`` matrix of the reverse complement."""
        return self.pwm[::-1, ::-1].copy()


def _counts_to_pwm(counts: dict) -> np.ndarray:
    mat = np.array([list(counts[b]) for b in "ACGT"], dtype=np.float64)  # (4, w)
    tot = mat.sum(axis=0, keepdims=True)
    tot[tot == 0] = 1.0
    return mat / tot


def _version(matrix_id: str) -> tuple[str, int]:
    base, _, ver = matrix_id.partition(".")
    return base, int(ver) if ver.isdigit() else 0


def load_jaspar(
    *,
    release: str,
    collection: str | None,
    tax_group: Iterable[str] | None,
    ids: Iterable[str] | None,
    non_redundant: bool,
) -> list[Motif]:
    """Fetch motifs from the JASPAR release bundled with pyjaspar (no network).

    Parameters
    ----------
    ids
        Explicit matrix ids (``"MA0079.5"``; a bare ``"MA0079"`` takes the latest
        version). When given, ``collection`` and ``tax_group`` are ignored.
    non_redundant
        Keep only the latest version of each base id (JASPAR's own non-redundant rule).

    Returns motifs sorted by id. Raises ``ValueError`` for an unknown id or an empty selection.
    """
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    motifs = []
    if ids:
        for mid in ids:
            m = db.fetch_motif_by_id(mid)
            if m is None:
                raise ValueError(f"JASPAR matrix id {mid!r} not found in {release}")
            motifs.append(m)
    else:
        kw = {}
        if collection:
            kw["collection"] = collection
        if tax_group:
            kw["tax_group"] = list(tax_group)
        motifs = db.fetch_motifs(**kw)
        if non_redundant:
            latest: dict[str, object] = {}
            for m in motifs:
                base, ver = _version(m.matrix_id)
                if base not in latest or _version(latest[base].matrix_id)[1] < ver:
                    latest[base] = m
            motifs = list(latest.values())
    out = [Motif(m.matrix_id, str(m.name), _counts_to_pwm(m.counts)) for m in motifs]
    if not out:
        raise ValueError(f"no JASPAR motifs selected from {release} (collection={collection}, tax_group={tax_group})")
    return sorted(out, key=lambda m: m.motif_id)


#: how far a letter-probability row may sum from 1 (MEME files round to a few decimals)
ROW_SUM_TOLERANCE = 0.01


def _check_rows(path: Path, mid: str, rows: list[list[float]], first_line: int) -> None:
    """Every row a probability distribution: values in [0, 1] summing to 1 (within :data:`ROW_SUM_TOLERANCE`).

    A matrix that breaks this is an error naming the motif and the row's line, never silently
    renormalised (a row summing to 3.6 is a count matrix or a typo, not probabilities).
    """
    for r, vals in enumerate(rows):
        where = f"motif {mid}, row {r + 1} (line {first_line + r})"
        if any(not 0.0 <= v <= 1.0 for v in vals):
            raise InputDataError(path, f"probabilities must lie in [0, 1]: {vals}", record=where)
        total = sum(vals)
        if abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise InputDataError(path, f"probabilities sum to {total:g}, not 1: {vals}", record=where)


def read_meme(path: str | Path) -> list[Motif]:
    """Read motifs from a MEME-format text file (letter-probability matrices).

    Every matrix is checked before anything uses it: an :class:`InputDataError` names the file,
    the motif and the row for a duplicate motif id, a header ``w=`` that disagrees with the rows, a
    negative or > 1 probability, or a row that does not sum to 1.

    Written here rather than using ``memelite.io.read_meme`` for those checks: memelite keys
    motifs by their MOTIF line, so a duplicated id silently
    replaces the first; it needs ``w=`` in every header; and a malformed row fails with a bare
    ``ValueError`` that names neither the motif nor the line.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    motifs: list[Motif] = []
    seen: dict[str, int] = {}
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise InputDataError(path, "MOTIF line without a name", record=f"line {i + 1}")
            mid = parts[1]
            name = parts[2] if len(parts) > 2 else mid
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("letter-probability"):
                if lines[j].strip().startswith("MOTIF"):
                    raise InputDataError(path, "motif has no letter-probability matrix", record=f"motif {mid}")
                j += 1
            if j >= len(lines):
                raise InputDataError(path, "motif has no letter-probability matrix", record=f"motif {mid}")
            m = re.search(r"w=\s*(\d+)", lines[j])
            rows = []
            k = j + 1
            while k < len(lines) and (m is None or len(rows) < int(m.group(1))):
                s = lines[k].strip()
                if not s:
                    if m is None and rows:
                        break
                    k += 1
                    continue
                if s.startswith(("MOTIF", "URL")):
                    break
                try:
                    vals = [float(x) for x in s.split()]
                except ValueError:
                    raise InputDataError(
                        path, f"non-numeric matrix row {s!r}", record=f"motif {mid}, line {k + 1}"
                    ) from None
                if len(vals) != 4:
                    raise InputDataError(
                        path,
                        f"matrix row has {len(vals)} columns, expected 4 (ACGT)",
                        record=f"motif {mid}, line {k + 1}",
                    )
                rows.append(vals)
                k += 1
            if not rows:
                raise InputDataError(path, "empty matrix", record=f"motif {mid}")
            if m is not None and len(rows) != int(m.group(1)):
                raise InputDataError(
                    path, f"header says w= {m.group(1)} but the matrix has {len(rows)} rows", record=f"motif {mid}"
                )
            _check_rows(path, mid, rows, first_line=j + 2)
            if mid in seen:
                raise InputDataError(path, f"duplicate motif id (first at line {seen[mid]})", record=f"motif {mid}")
            seen[mid] = i + 1
            motifs.append(Motif(mid, name, np.array(rows, dtype=np.float64).T))
            i = k
        else:
            i += 1
    if not motifs:
        raise InputDataError(path, "no motifs found (expected MEME format with MOTIF lines)")
    return motifs


def meme_text(entries: Iterable[tuple[str, str, np.ndarray, int]]) -> str:
    """MEME (version 4) text, uniform background, of ``(motif_id, name, pwm (4, w) ACGT, nsites)`` entries."""
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        "A 0.25 C 0.25 G 0.25 T 0.25",
        "",
    ]
    for motif_id, name, pwm, nsites in entries:
        out.append(f"MOTIF {motif_id} {name}")
        out.append(f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= {nsites} E= 0")
        out.extend(" ".join(f"{v:.6f}" for v in col) for col in pwm.T)
        out.append("")
    return "\n".join(out) + "\n"


def write_meme(motifs: Iterable[Motif], path: str | Path) -> None:
    """Write motifs as a MEME (version 4) file, uniform background."""
    from promoter_cr.atomic import write_text

    write_text(path, meme_text((m.motif_id, m.name, m.pwm, 20) for m in motifs))


def load_jaspar_ids(release: str, ids: Iterable[str]) -> list[Motif]:
    """The JASPAR matrices ``ids`` of ``release`` (a bare ``"MA0079"`` takes the latest version)."""
    return load_jaspar(release=release, collection=None, tax_group=None, ids=list(ids), non_redundant=False)


def default_collection() -> list[Motif]:
    """The motif collection of the schema's default ``motifs`` section (JASPAR CORE vertebrates):
    the background for Tomtom when a motif set is too small to be its own."""
    from promoter_cr.config import section_defaults

    return load_motifs({**section_defaults("motifs"), "meme_file": None})


def load_motifs(motif_cfg: dict) -> list[Motif]:
    """Motifs from the validated ``motifs`` config section: a MEME file if given, else JASPAR.

    An unknown JASPAR id or an empty selection is an :class:`InputDataError`."""
    if motif_cfg["meme_file"]:
        return read_meme(motif_cfg["meme_file"])
    try:
        return load_jaspar(
            release=motif_cfg["jaspar_release"],
            collection=motif_cfg["collection"],
            tax_group=motif_cfg["tax_group"],
            ids=motif_cfg["ids"],
            non_redundant=motif_cfg["non_redundant"],
        )
    except ValueError as exc:
        raise InputDataError(None, str(exc)) from None
