"""Variant effects from a VCF and saturation mutagenesis (promoter_cr.interpret.variants / saturation).

Every fixture is written by the tests: a small genome FASTA, TSS table and VCF in tmp_path. Windows
and alternative haplotypes are rebuilt here by hand from the genome string (slice, reverse
complement on minus, indels applied to the chromosome and the TSS moved with it) and compared base
for base and prediction for prediction with the package's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from _model_fixtures import MOTIF, make_network, planted_dataset, tiny_config

from promoter_cr.config import validate_config
from promoter_cr.data import windows as W
from promoter_cr.data.sources.genome import Genome, extract_windows
from promoter_cr.errors import InputDataError
from promoter_cr.interpret import variants as V
from promoter_cr.interpret.saturation import SATURATION_COLUMNS, saturation_from_genome
from promoter_cr.models.inference import Predictor
from promoter_cr.seq.encoding import decode, encode, reverse_complement
from promoter_cr.seq.motifs import Motif

torch.set_num_threads(1)

UP, DOWN = 50, 30  # the planted training set has 80 bp sequences
SPEC = W.WindowSpec(UP, DOWN)
BATCH = 4
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n##contig=<ID=chr2,length=800>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
# genes: (id, chrom, 0-based TSS, strand); windows: + [tss-50, tss+30), - rc of [tss-29, tss+51)
GENES = [("gP", "chr1", 1000, "+"), ("gM", "chr1", 1999, "-"), ("gM2", "chr2", 400, "-")]


def _write_fasta(path: Path, contigs: dict[str, str]) -> Path:
    path.write_text(
        "".join(f">{k}\n" + "\n".join(v[i : i + 60] for i in range(0, len(v), 60)) + "\n" for k, v in contigs.items())
    )
    return path


def _write_vcf(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(line + "\n" for line in lines))
    return path


def _planted_contigs(seed: int = 5) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    contigs = {"chr1": "".join(rng.choice(list("ACGT"), 3000)), "chr2": "".join(rng.choice(list("ACGT"), 800))}
    # an activator site (palindromic CRE) in each window: + gene window index 20 (genomic 970..978);
    # - gene: genomic 1980..1988 (window indices 62-69 after the reverse complement)
    c1 = contigs["chr1"]
    c1 = c1[:970] + MOTIF + c1[978:]
    c1 = c1[:1980] + MOTIF + c1[1988:]
    contigs["chr1"] = c1
    return contigs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Genome FASTA, BED TSS table and the gene windows table."""
    tmp = tmp_path_factory.mktemp("genome")
    contigs = _planted_contigs()
    fa = _write_fasta(tmp / "genome.fa", contigs)
    bed = tmp / "tss.bed"
    bed.write_text("".join(f"{c}\t{t}\t{t + 1}\t{g}\t0\t{s}\n" for g, c, t, s in GENES))
    genome = Genome(fa)
    tss = W.load_tss(bed, _genome_cfg(), None)
    genes = W.gene_windows(tss, genome, SPEC, tss_path=bed, missing_chromosome="error")
    yield {"tmp": tmp, "contigs": contigs, "fasta": fa, "bed": bed, "genome": genome, "genes": genes}
    genome.close()


def _genome_cfg() -> dict:
    return validate_config({"dataset": {"source": "genome"}}, semantics=False)["dataset"]["genome"]


@pytest.fixture(scope="module")
def random_cr():
    """An untrained CR network with weights large enough that every base moves the prediction."""
    torch.manual_seed(0)
    model = make_network("cr", UP + DOWN, channels=16, stem_kernel=9, dropout=0.0).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.readout, std=0.3)
        torch.nn.init.normal_(model.position, std=0.3)
    return model


@pytest.fixture(scope="module")
def planted_ckpt(tmp_path_factory):
    """A tiny CR trained on planted activator/repressor data; checkpoint re-labelled as a genome-source set."""
    from promoter_cr.models import CKPT_KEY
    from promoter_cr.models.train import train_model

    tmp = tmp_path_factory.mktemp("planted")
    data = planted_dataset(tmp / "data")
    train_model(tiny_config(tmp, max_epochs=20, lr=0.01), "cr", data, tmp / "cr")
    trained = tmp / "cr" / "best.ckpt"
    ckpt = torch.load(trained, map_location="cpu", weights_only=True)
    ckpt[CKPT_KEY]["dataset_meta"] = {
        "source": "genome",
        "window": {"upstream": UP, "downstream": DOWN, "length": UP + DOWN},
        "tss_index": UP,
        "bed_tss": "start",
    }
    genome_ckpt = tmp / "genome.ckpt"
    torch.save(ckpt, genome_ckpt)
    return {"trained": trained, "genome": genome_ckpt}


# ------------------------------------------------------------------------- hand-made reference
def _hand_window(contig: str, tss: int, strand: str) -> str:
    if strand == "+":
        a, b = tss - UP, tss + DOWN
    else:
        a, b = tss - DOWN + 1, tss + UP + 1
    s = "".join(contig[i] if 0 <= i < len(contig) else "N" for i in range(a, b))
    return s if strand == "+" else reverse_complement(s)


def _hand_alt(contig: str, tss: int, strand: str, pos: int, ref: str, alt: str) -> str:
    """Alternative window: apply the VCF allele to the chromosome, move the TSS with it, cut as usual.

    (Independent of the package's trimming: the VCF anchor base is kept, so an indel's REF span must
    not hold the TSS, which all test variants respect.)
    """
    p0 = pos - 1
    assert contig[p0 : p0 + len(ref)] == ref
    assert len(ref) == len(alt) or not p0 <= tss < p0 + len(ref)
    hap = contig[:p0] + alt + contig[p0 + len(ref) :]
    new_tss = tss if tss < p0 else tss + len(alt) - len(ref)
    return _hand_window(hap, new_tss, strand)


def _gene(world, gene_id):
    return world["genes"].set_index("gene_id").loc[gene_id]


def _score(model, world, vcf: Path, **kw):
    opts = dict(
        regions=None,
        motifs=None,
        p_threshold=1e-4,
        local_flank=10,
        on_ref_mismatch="error",
        missing_chromosome="error",
    )
    opts.update(kw)
    return V.score_variants(Predictor(model, "cpu", BATCH), vcf, world["genes"], world["genome"], SPEC, **opts)


def _variant_lines(contigs: dict[str, str]) -> list[str]:
    c1, c2 = contigs["chr1"], contigs["chr2"]
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    other = next(b for b in "ACGT" if b not in (c2[419], c2[421]))

    def snv(chrom, pos, vid="."):
        ref = contigs[chrom][pos - 1]
        return f"{chrom}\t{pos}\t{vid}\t{ref}\t{'A' if ref != 'A' else 'G'}\t.\t.\t."

    return [
        snv("chr1", 960, "rsP_up"),  # + gene, 41 bp upstream
        snv("chr1", 1010),  # + gene, downstream
        f"chr1\t985\tdelP\t{c1[984:989]}\t{c1[984]}\t.\t.\t.",  # + gene, 4 bp deletion upstream
        f"chr1\t1005\tinsP\t{c1[1004]}\t{c1[1004]}TTGCA\t.\t.\t.",  # + gene, 5 bp insertion downstream
        f"chr1\t1019\tmnvP\t{c1[1018:1020]}\t{comp[c1[1018]] + comp[c1[1019]]}\t.\t.\t.",
        snv("chr1", 2000),  # - gene, the TSS base itself (an SNV keeps the TSS)
        snv("chr1", 2030, "rsM_up"),  # - gene, upstream (higher genomic coordinate)
        f"chr1\t2010\tdelM\t{c1[2009:2013]}\t{c1[2009]}\t.\t.\t.",  # - gene, 3 bp deletion upstream
        f"chr1\t1985\tinsM\t{c1[1984]}\t{c1[1984]}GG\t.\t.\t.",  # - gene, insertion downstream
        snv("chr2", 390),  # second chromosome, - gene
        f"chr2\t420\tcplx\t{c2[419:422]}\t{other}\t.\t.\t.",  # complex (3 bp -> 1 other bp)
    ]


# ------------------------------------------------------------------------- window parameters
def test_window_spec_from_checkpoint_metadata():
    genome_meta = {
        "path": "m.ckpt",
        "length": 80,
        "dataset_meta": {"source": "genome", "window": {"upstream": 50, "downstream": 30}, "tss_index": 50},
    }
    assert W.window_spec(genome_meta, upstream=None, downstream=None) == W.WindowSpec(50, 30)
    assert W.window_spec(genome_meta, upstream=50, downstream=30) == W.WindowSpec(50, 30)
    with pytest.raises(InputDataError, match="differs from the one the model was trained on"):
        W.window_spec(genome_meta, upstream=60, downstream=20)
    other = {
        "path": "sim.ckpt",
        "length": 80,
        "dataset_meta": {"source": "simulate", "window": {"start": -50, "end": 30}},
    }
    with pytest.raises(InputDataError, match=r"sim\.ckpt.*'simulate' data set.*give upstream and downstream") as err:
        W.window_spec(other, upstream=None, downstream=None)
    assert err.value.path == "sim.ckpt"
    assert W.window_spec(other, upstream=50, downstream=30) == W.WindowSpec(50, 30)
    with pytest.raises(InputDataError, match="takes 80 bp windows"):
        W.window_spec(other, upstream=40, downstream=30)


# ------------------------------------------------------------------------- placement and exactness
def test_reference_windows_are_the_genome_source_windows(world):
    g = world["genes"]
    cut = extract_windows(world["genome"], g["ref"].to_numpy(), g["tss"].to_numpy(), g["strand"].to_numpy(), UP, DOWN)
    for i, (gid, chrom, tss, strand) in enumerate(GENES):
        assert g["gene_id"].iloc[i] == gid
        assert np.array_equal(cut[i], encode(_hand_window(world["contigs"][chrom], tss, strand)))


def test_minus_strand_snv_is_complemented_and_placed(world, random_cr):
    contig = world["contigs"]["chr1"]
    pos = 2030  # 1-based; the minus gene's TSS is 0-based 1999, so 30 bp upstream in transcription direction
    ref = contig[pos - 1]
    alt = {"A": "C", "C": "A", "G": "T", "T": "G"}[ref]
    vcf = _write_vcf(world["tmp"] / "minus.vcf", [f"chr1\t{pos}\t.\t{ref}\t{alt}\t.\t.\t."])
    table, summary = _score(random_cr, world, vcf)
    assert len(table) == 1 and summary["counts"]["pairs"] == 1
    row = table.iloc[0]
    assert (row["gene_id"], row["strand"], row["offset_to_tss"], row["kind"]) == ("gM", "-", -30, "snv")
    # base for base: the package's alternative window is the hand-cut one, with the complement at index 20
    g = _gene(world, "gM")
    edit = V.orient_edit(pos - 1, pos, encode(alt), int(g["start"]), True, SPEC)
    ext = 4
    extended = extract_windows(
        world["genome"], np.array([g["ref"]]), np.array([g["tss"]]), np.array(["-"]), UP + ext, DOWN + ext
    )[0]
    got = V.alt_window(extended, ext, UP + DOWN, edit)
    ref_w, alt_w = _hand_window(contig, 1999, "-"), _hand_alt(contig, 1999, "-", pos, ref, alt)
    assert edit.start == UP - 30 and edit.substitution
    assert np.array_equal(got, encode(alt_w))
    diff = [i for i in range(UP + DOWN) if ref_w[i] != alt_w[i]]
    assert diff == [UP - 30] and alt_w[UP - 30] == reverse_complement(alt) and ref_w[UP - 30] == reverse_complement(ref)
    exp = (
        V.predict_windows(Predictor(random_cr, "cpu", BATCH), encode(alt_w)[None])[0]
        - V.predict_windows(Predictor(random_cr, "cpu", BATCH), encode(ref_w)[None])[0]
    )
    assert row["delta"] == exp


def test_delta_is_exactly_alt_minus_ref_for_snvs_and_indels(world, random_cr):
    lines = _variant_lines(world["contigs"])
    vcf = _write_vcf(world["tmp"] / "many.vcf", lines)
    table, summary = _score(random_cr, world, vcf)
    assert len(table) == len(lines) and summary["counts"]["alleles_scored"] == len(lines)
    assert set(table["kind"]) == {"snv", "mnv", "insertion", "deletion", "complex"}
    tss = {g: (c, t, s) for g, c, t, s in GENES}
    alt_windows, ref_windows = [], []
    for _, row in table.iterrows():
        chrom, t, strand = tss[row["gene_id"]]
        contig = world["contigs"][chrom]
        alt_w = _hand_alt(contig, t, strand, int(row["pos"]), row["ref"], row["alt"])
        assert len(alt_w) == UP + DOWN  # indels keep the window length
        alt_windows.append(encode(alt_w))
        ref_windows.append(encode(_hand_window(contig, t, strand)))
    alt_pred = V.predict_windows(Predictor(random_cr, "cpu", BATCH), np.stack(alt_windows))
    ref_pred = V.predict_windows(Predictor(random_cr, "cpu", BATCH), np.stack(ref_windows))
    assert np.array_equal(table["alt_prediction"].to_numpy(), alt_pred)
    assert np.array_equal(table["ref_prediction"].to_numpy(), ref_pred)
    assert np.array_equal(table["delta"].to_numpy(), alt_pred - ref_pred)  # bit for bit
    assert (table["delta"] != 0).all() and table["local_contribution_change"].notna().all()
    # offsets in transcription direction: + gene downstream SNV at 1010 -> +9; - gene upstream SNV -> -30
    by_id = table.set_index("variant_id")
    assert by_id.loc["rsP_up", "offset_to_tss"] == -41 and by_id.loc["rsM_up", "offset_to_tss"] == -30
    assert table.set_index("pos").loc[1010, "offset_to_tss"] == 9 and by_id.loc["insM", "offset_to_tss"] == 15


def test_indel_anchoring_at_the_tss(world):
    """Deletion upstream: the 5' end is filled from the genome; insertion downstream: the 3' end is trimmed."""
    g = _gene(world, "gP")
    contig = world["contigs"]["chr1"]
    ext = 12
    extended = extract_windows(
        world["genome"], np.array([g["ref"]]), np.array([g["tss"]]), np.array(["+"]), UP + ext, DOWN + ext
    )[0]
    ref_w = encode(_hand_window(contig, 1000, "+"))
    # delete genomic 985..988 (0-based; 4 bases after the anchor at 984), 12..15 bp upstream of the TSS
    edit = V.orient_edit(985, 989, np.zeros(0, np.uint8), int(g["start"]), False, SPEC)
    alt = V.alt_window(extended, ext, UP + DOWN, edit)
    assert len(alt) == UP + DOWN and edit.shift == -4
    assert np.array_equal(alt[39:], ref_w[39:])  # from the deletion to the 3' end: unchanged
    assert np.array_equal(alt[4:39], ref_w[:35])  # far side moved 4 bp towards the TSS
    assert np.array_equal(alt[:4], encode(contig[946:950]))  # ... and the 5' end filled from the genome
    # insert 3 bases before genomic 1010 (downstream): 3' end trimmed
    edit = V.orient_edit(1010, 1010, encode("GGG"), int(g["start"]), False, SPEC)
    alt = V.alt_window(extended, ext, UP + DOWN, edit)
    assert (
        edit.shift == 0
        and np.array_equal(alt[:60], ref_w[:60])
        and decode(alt[60:63]) == "GGG"
        and np.array_equal(alt[63:], ref_w[60:77])
    )
    # a deletion of the TSS base itself: the TSS moves to the first base after it
    edit = V.orient_edit(1000, 1002, np.zeros(0, np.uint8), int(g["start"]), False, SPEC)
    alt = V.alt_window(extended, ext, UP + DOWN, edit)
    assert np.array_equal(alt[:UP], ref_w[:UP]) and alt[UP] == ref_w[UP + 2]


def test_multiallelic_split_and_symbolic_alleles_skipped(world, random_cr, caplog):
    c1 = world["contigs"]["chr1"]
    ref = c1[1014]
    alts = [b for b in "ACGT" if b != ref]
    lines = [
        f"chr1\t1015\tmulti\t{ref}\t{alts[0]},{alts[1]},<DEL>,*\t.\t.\t.",
        f"chr1\t1016\t.\t{c1[1015]}\t{c1[1015]}[chr2:100[\t.\t.\t.",
        f"chr1\t1017\t.\t{c1[1016]}\t.\t.\t.\t.",
        f"chr1\t100\tfar\t{c1[99]}\t{'A' if c1[99] != 'A' else 'C'}\t.\t.\t.",  # in no window
    ]
    vcf = _write_vcf(world["tmp"] / "multi.vcf", lines)
    with caplog.at_level("INFO"):
        table, summary = _score(random_cr, world, vcf)
    assert list(table["alt"]) == alts[:2] and list(table["variant_id"]) == ["multi", "multi"]
    assert (table["pos"] == 1015).all() and (table["gene_id"] == "gP").all()
    c = summary["counts"]
    assert c["records"] == 4 and c["alleles"] == 7 and c["symbolic_or_missing"] == 4 and c["outside_windows"] == 1
    assert "4 symbolic/missing" in caplog.text
    assert table["delta"].iloc[0] != table["delta"].iloc[1]


def test_variant_in_two_overlapping_windows_gives_one_row_per_gene(tmp_path, random_cr):
    rng = np.random.default_rng(1)
    contig = "".join(rng.choice(list("ACGT"), 600))
    fa = _write_fasta(tmp_path / "g.fa", {"chr1": contig})
    tss = pd.DataFrame({"gene_id": ["a", "b"], "chrom": ["chr1", "chr1"], "tss": [300, 310], "strand": ["+", "-"]})
    genome = Genome(fa)
    try:
        genes = W.gene_windows(tss, genome, SPEC, tss_path=None, missing_chromosome="error")
        ref = contig[304]
        vcf = _write_vcf(tmp_path / "v.vcf", [f"chr1\t305\t.\t{ref}\t{'A' if ref != 'A' else 'T'}\t.\t.\t."])
        table, _ = V.score_variants(
            Predictor(random_cr, "cpu", BATCH),
            vcf,
            genes,
            genome,
            SPEC,
            regions=None,
            motifs=None,
            p_threshold=1e-4,
            local_flank=10,
            on_ref_mismatch="error",
            missing_chromosome="error",
        )
    finally:
        genome.close()
    assert list(table["gene_id"]) == ["a", "b"]
    assert list(table["offset_to_tss"]) == [
        4,
        6,
    ]  # + gene (TSS 300): 4 bp downstream; - gene (TSS 310): 6 bp downstream


def test_indexed_vcf_region_queries_match_streaming(world, random_cr):
    lines = sorted(
        _variant_lines(world["contigs"]), key=lambda line: (line.split("\t")[0], int(line.split("\t")[1]))
    )  # tabix needs sorted
    plain = _write_vcf(world["tmp"] / "idx.vcf", lines)
    bgz = world["tmp"] / "idx.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz), force=True)
    streamed, _ = _score(random_cr, world, bgz)  # bgzip without an index: streamed
    pysam.tabix_index(str(bgz), preset="vcf", force=True)
    queried, _ = _score(random_cr, world, bgz)
    key = ["variant_id", "gene_id", "alt"]
    pd.testing.assert_frame_equal(
        streamed.sort_values(key).reset_index(drop=True), queried.sort_values(key).reset_index(drop=True)
    )
    only_chr2, summary = _score(random_cr, world, bgz, regions=["chr2:1-800"])
    assert set(only_chr2["chrom"]) == {"chr2"} and len(only_chr2) == 2
    streamed_chr2, s2 = _score(random_cr, world, plain, regions=["chr2"])
    assert len(streamed_chr2) == 2 and s2["counts"]["outside_regions"] == len(lines) - 2


# ------------------------------------------------------------------------- trained model, end to end
def test_destroying_a_planted_activator_site_lowers_the_prediction(world, planted_ckpt, tmp_path):
    contig = world["contigs"]["chr1"]
    # the CRE's 4th base (C) at genomic 973 / 1983 (0-based) -> A (a base change in both windows)
    lines = [f"chr1\t974\tkillP\t{contig[973]}\tA\t.\t.\t.", f"chr1\t1984\tkillM\t{contig[1983]}\tA\t.\t.\t."]
    assert contig[973] == MOTIF[3] and contig[1983] == MOTIF[3]
    vcf = _write_vcf(tmp_path / "kill.vcf", lines)
    out = tmp_path / "scores.tsv"
    cre = Motif("CRE1", "CRE", np.eye(4)[:, encode(MOTIF)] * 0.96 + 0.01)
    summary = V.score_vcf(
        planted_ckpt["genome"],
        vcf,
        world["fasta"],
        world["bed"],
        out,
        tss_options=_genome_cfg(),
        upstream=None,
        downstream=None,
        regions=None,
        genes=None,
        motifs=[cre],
        p_threshold=1e-4,
        local_flank=10,
        on_ref_mismatch="error",
        missing_chromosome="error",
        batch_size=BATCH,
        device="cpu",
        summary_out=tmp_path / "summary.json",
    )
    table = V.read_variant_table(out)
    assert list(table.columns) == V.VARIANT_COLUMNS and summary["n_rows"] == 2 and (tmp_path / "summary.json").exists()
    assert list(table["gene_id"]) == ["gP", "gM"]
    assert (table["delta"] < -0.1).all(), table[
        ["variant_id", "delta"]
    ]  # about -0.4 and -0.6 here; a planted site adds 1.0
    assert (table["local_contribution_change"] < 0).all()
    assert list(table["motif_lost"]) == ["CRE1:CRE", "CRE1:CRE"] and list(table["motif_gained"]) == ["", ""]
    # written at full precision: delta round-trips
    assert np.array_equal(
        table["delta"].to_numpy(), table["alt_prediction"].to_numpy() - table["ref_prediction"].to_numpy()
    )
    # the reverse: restoring the site (a VCF on the mutated genome) gains the motif
    mutated = contig[:973] + "A" + contig[974:]
    fa2 = _write_fasta(tmp_path / "mut.fa", {"chr1": mutated, "chr2": world["contigs"]["chr2"]})
    vcf2 = _write_vcf(tmp_path / "gain.vcf", [f"chr1\t974\tgain\tA\t{MOTIF[3]}\t.\t.\t."])
    V.score_vcf(
        planted_ckpt["genome"],
        vcf2,
        fa2,
        world["bed"],
        tmp_path / "gain.tsv",
        tss_options=_genome_cfg(),
        upstream=None,
        downstream=None,
        regions=None,
        genes=["gP"],
        motifs=[cre],
        p_threshold=1e-4,
        local_flank=10,
        on_ref_mismatch="error",
        missing_chromosome="error",
        batch_size=BATCH,
        device="cpu",
    )
    gain = V.read_variant_table(tmp_path / "gain.tsv")
    assert list(gain["motif_gained"]) == ["CRE1:CRE"] and gain["delta"].iloc[0] > 0.1


def test_checkpoint_without_genome_window_needs_explicit_window(world, planted_ckpt, tmp_path):
    vcf = _write_vcf(tmp_path / "v.vcf", _variant_lines(world["contigs"])[:1])
    kw = dict(
        tss_options=_genome_cfg(),
        regions=None,
        genes=None,
        motifs=None,
        p_threshold=1e-4,
        local_flank=10,
        on_ref_mismatch="error",
        missing_chromosome="error",
        batch_size=BATCH,
        device="cpu",
    )
    out = tmp_path / "s.tsv"
    with pytest.raises(InputDataError, match="'test' data set") as err:
        V.score_vcf(
            planted_ckpt["trained"], vcf, world["fasta"], world["bed"], out, upstream=None, downstream=None, **kw
        )
    assert err.value.path == str(planted_ckpt["trained"]) and not out.exists()
    V.score_vcf(planted_ckpt["trained"], vcf, world["fasta"], world["bed"], out, upstream=UP, downstream=DOWN, **kw)
    assert len(V.read_variant_table(out)) == 1


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "case, lines, match, record",
    [
        ("malformed", ["chr1\t974\t.\tC\tA\t.\t.\t.", "chr1\tXX\t.\tA\tC\t.\t.\t."], "malformed VCF record", "line 6"),
        ("ref_mismatch", ["chr1\t974\tbad\tG\tA\t.\t.\t."], "does not match the genome", "chr1:974"),
        (
            "unknown_chrom",
            ["chr1\t974\t.\tC\tA\t.\t.\t.", "chrUn\t5\t.\tA\tC\t.\t.\t."],
            "chromosome 'chrUn' is not in the genome",
            "chrUn:5",
        ),
        ("bad_alt", ["chr1\t974\t.\tC\tAZ\t.\t.\t."], "characters other than", "chr1:974"),
    ],
)
def test_bad_vcf_input_names_the_record_and_writes_nothing(world, planted_ckpt, tmp_path, case, lines, match, record):
    if case == "ref_mismatch":
        assert world["contigs"]["chr1"][973] != "G"
    vcf = _write_vcf(tmp_path / f"{case}.vcf", lines)
    out = tmp_path / "out" / "scores.tsv"
    summary = tmp_path / "out" / "summary.json"
    with pytest.raises(InputDataError, match=match) as err:
        V.score_vcf(
            planted_ckpt["genome"],
            vcf,
            world["fasta"],
            world["bed"],
            out,
            tss_options=_genome_cfg(),
            upstream=None,
            downstream=None,
            regions=None,
            genes=None,
            motifs=None,
            p_threshold=1e-4,
            local_flank=10,
            on_ref_mismatch="error",
            missing_chromosome="error",
            batch_size=BATCH,
            device="cpu",
            summary_out=summary,
        )
    assert err.value.path == str(vcf) and record in (err.value.record or ""), str(err.value)
    assert not out.exists() and not summary.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no temporary left either


def test_missing_vcf(world, random_cr, tmp_path):
    with pytest.raises(InputDataError, match="VCF file not found") as err:
        _score(random_cr, world, tmp_path / "absent.vcf")
    assert err.value.path == str(tmp_path / "absent.vcf")


def test_ref_mismatch_flag_and_unknown_chromosome_skip(world, random_cr, tmp_path):
    c1 = world["contigs"]["chr1"]
    wrong = "A" if c1[973] != "A" else "C"
    alt = "G" if c1[973] != "G" else "T"
    vcf = _write_vcf(
        tmp_path / "v.vcf",
        [
            f"chr1\t974\tmis\t{wrong}\t{alt}\t.\t.\t.",
            "chrUn\t5\t.\tA\tC\t.\t.\t.",
            f"chr1\t1010\tok\t{c1[1009]}\t{'A' if c1[1009] != 'A' else 'C'}\t.\t.\t.",
        ],
    )
    table, summary = _score(random_cr, world, vcf, on_ref_mismatch="flag", missing_chromosome="skip")
    assert list(table["variant_id"]) == ["mis", "ok"] and list(table["ref_mismatch"]) == [True, False]
    assert summary["counts"]["unknown_chromosome"] == 1 and summary["counts"]["ref_mismatch"] == 1
    # the flagged ALT replaces the genome's base
    assert (
        table["delta"].iloc[0]
        == V.predict_windows(
            Predictor(random_cr, "cpu", BATCH), encode(_hand_window(c1[:973] + alt + c1[974:], 1000, "+"))[None]
        )[0]
        - table["ref_prediction"].iloc[0]
    )
    skipped, s2 = _score(random_cr, world, vcf, on_ref_mismatch="skip", missing_chromosome="skip")
    assert list(skipped["variant_id"]) == ["ok"] and s2["counts"]["ref_mismatch_skipped"] == 1


# ------------------------------------------------------------------------- saturation mutagenesis
def test_saturation_mutagenesis_table_exact_and_figure(world, random_cr, tmp_path):
    from promoter_cr.plots.variants import plot_saturation, saturation_matrix

    table = saturation_from_genome(
        Predictor(random_cr, "cpu", BATCH), world["genes"], world["genome"], SPEC, ["gM", "gP"], start=-5, end=5
    )
    assert list(table.columns[:4]) == ["gene_id", "chrom", "strand", "genomic_pos"] and set(SATURATION_COLUMNS) <= set(
        table.columns
    )
    assert len(table) == 2 * 10 * 3 and list(dict.fromkeys(table["gene_id"])) == ["gM", "gP"]
    contig = world["contigs"]["chr1"]
    ref_w = encode(_hand_window(contig, 1999, "-"))
    row = table[(table["gene_id"] == "gM") & (table["position"] == 3)].iloc[1]
    # minus strand: position +3 is genomic 0-based 1996; the forward-strand bases are complements
    assert (
        row["genomic_pos"] == 1997
        and row["genomic_ref"] == contig[1996]
        and row["ref"] == reverse_complement(contig[1996])
    )
    alt_w = _hand_alt(contig, 1999, "-", 1997, contig[1996], row["genomic_alt"])
    assert alt_w[UP + 3] == row["alt"]
    exp = (
        V.predict_windows(Predictor(random_cr, "cpu", BATCH), encode(alt_w)[None])[0]
        - V.predict_windows(Predictor(random_cr, "cpu", BATCH), ref_w[None])[0]
    )
    assert row["delta"] == exp
    positions, delta, ref, wf = saturation_matrix(table, "gM")
    assert delta.shape == (4, 10) and np.isnan(delta).sum() == 10 and np.isfinite(wf).all()
    files = plot_saturation(table, "gM", tmp_path / "fig" / "saturation_gM", {"formats": ["png"], "dpi": 60})
    assert [f.name for f in files] == ["saturation_gM.png"] and files[0].stat().st_size > 0


def test_saturation_of_a_planted_site_from_a_checkpoint(world, planted_ckpt, tmp_path):
    from promoter_cr.interpret.saturation import saturation_from_checkpoint

    out = tmp_path / "sat.tsv"
    # window indices 14..35 around the + gene's CRE at 20..27
    table = saturation_from_checkpoint(
        planted_ckpt["genome"],
        world["fasta"],
        world["bed"],
        out,
        ["gP"],
        tss_options=_genome_cfg(),
        upstream=None,
        downstream=None,
        start=-36,
        end=-14,
        missing_chromosome="error",
        batch_size=BATCH,
        device="cpu",
    )
    written = pd.read_csv(out, sep="\t")
    assert len(written) == len(table) == 22 * 3 and np.array_equal(
        written["delta"].to_numpy(), table["delta"].to_numpy()
    )
    in_site = table["window_index"].between(20, 27)
    # breaking the activator costs more than changing its flanks; the track is positive on the site
    assert table.loc[in_site, "delta"].mean() < table.loc[~in_site, "delta"].mean() - 0.1
    assert table.loc[in_site, "ref_contribution"].mean() > table.loc[~in_site, "ref_contribution"].mean()


def test_command_line_gives_the_tables_of_the_functions(world, planted_ckpt, tmp_path):
    """`promoter-cr score-variants` and `promoter-cr saturation` (what the workflow's rules run) write
    exactly the tables of score_vcf and saturation_from_checkpoint with the config's variants settings."""
    import json

    from promoter_cr import cli
    from promoter_cr.interpret.saturation import saturation_from_checkpoint

    contig = world["contigs"]["chr1"]
    vcf = _write_vcf(
        tmp_path / "v.vcf",
        [f"chr1\t974\tkillP\t{contig[973]}\tA\t.\t.\t.", f"chr1\t1990\tins\t{contig[1989]}\t{contig[1989]}T\t.\t.\t."],
    )
    variants = {"batch_size": BATCH, "motif_changes": False, "saturation": {"start": -36, "end": -14}}
    cfg = json.dumps({"dataset": {"source": "genome"}, "variants": variants})
    common = ["--checkpoint", str(planted_ckpt["genome"]), "--genome", str(world["fasta"]), "--tss", str(world["bed"])]
    run = ["--config", cfg, "--device", "cpu", "--no-progress"]
    assert cli.main(["score-variants", *common, "--vcf", str(vcf), "--out", str(tmp_path / "cli.tsv"),
                     "--summary", str(tmp_path / "cli.json"), *run]) == 0  # fmt: skip
    kw = dict(tss_options=_genome_cfg(), upstream=None, downstream=None, missing_chromosome="error", batch_size=BATCH,
              device="cpu")  # fmt: skip
    V.score_vcf(planted_ckpt["genome"], vcf, world["fasta"], world["bed"], tmp_path / "fn.tsv", regions=None,
                genes=None, motifs=None, p_threshold=1e-4, local_flank=10, on_ref_mismatch="error", **kw)  # fmt: skip
    got, want = V.read_variant_table(tmp_path / "cli.tsv"), V.read_variant_table(tmp_path / "fn.tsv")
    assert len(got) >= 2 and got.equals(want)
    assert json.loads((tmp_path / "cli.json").read_text())["n_rows"] == len(got)
    assert cli.main(["saturation", *common, "--genes", "gP", "--out", str(tmp_path / "sat_cli.tsv"), *run]) == 0
    table = saturation_from_checkpoint(planted_ckpt["genome"], world["fasta"], world["bed"], tmp_path / "sat_fn.tsv",
                                       ["gP"], start=-36, end=-14, **kw)  # fmt: skip
    assert len(table) == 22 * 3
    assert (tmp_path / "sat_cli.tsv").read_bytes() == (tmp_path / "sat_fn.tsv").read_bytes()
