"""The shipped instance corpus: what each file is, and the one function that writes them all.

``python -m instances.generate --corpus`` (or :func:`build_corpus`) rewrites
every file below, deterministically (same bytes on every run):

=============  =====================================================================
folder         contents
=============  =====================================================================
``paper/``     the paper's set-up (RoBERTa-base, M = 12): K = 20, seeds 1-3; K = 50, seeds 1-2
``tiny/``      K <= 6, M <= 4, small enough for brute force; three from the cost
               model (shallow encoders, memory budgets that bind) and one hand-made
``edge/``      ties (identical devices; equal computing speed), M = K, M = 1
``infeasible/`` a memory wall (no device holds the deepest block) and M > K
=============  =====================================================================

Each file's ``meta["corpus"]`` names its folder, the property it advertises
(checked by ``tests/test_generate.py``) and a one-line description.  The
corpus is kept to 15 small files because ``python -m validation.compare
instances/`` runs every solver, a MINLP included, on every file.

Examples
--------
>>> sorted({entry.folder for entry in CORPUS})
['edge', 'infeasible', 'paper', 'tiny']
>>> len(CORPUS) + 1          # + the hand-made tiny instance
15
>>> inst = hand_made_instance()
>>> inst.K, inst.M, inst.memory_prefix.tolist()
(4, 3, [3, 2, 3, 1])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .core import Instance, save_instance
from .generate import generate_instance

#: Folders of the corpus, relative to the ``instances`` package.
FOLDERS = ("paper", "tiny", "edge", "infeasible")


@dataclass(frozen=True)
class CorpusEntry:
    """One generated corpus file: ``<folder>/<name>.json`` = ``generate_instance(K, M, seed, **overrides)``."""

    folder: str
    name: str
    K: int
    M: int
    seed: int
    advertised: str
    description: str
    overrides: dict = field(default_factory=dict)

    def build(self) -> Instance:
        """Generate this entry's instance (with ``meta["corpus"]``)."""
        corpus_meta = {"corpus": {"folder": self.folder, "property": self.advertised,
                                  "description": self.description}}
        return generate_instance(self.K, self.M, self.seed, name=self.name, extra_meta=corpus_meta,
                                 allow_infeasible=self.folder == "infeasible", **self.overrides)


# Tiny instances use shallow encoders (num_layers = M, one block per layer), so that
# the blocks' latencies differ by the same kind of ratio as in RoBERTa-base, and
# memory budgets of a few GB, so that the memory constraint binds.
CORPUS: tuple[CorpusEntry, ...] = (
    CorpusEntry("paper", "paper-K20-M12-s1", 20, 12, 1, "paper", "the paper's set-up, K = 20 (Figs. 5-6)"),
    CorpusEntry("paper", "paper-K20-M12-s2", 20, 12, 2, "paper", "the paper's set-up, K = 20 (Figs. 5-6)"),
    CorpusEntry("paper", "paper-K20-M12-s3", 20, 12, 3, "paper", "the paper's set-up, K = 20 (Figs. 5-6)"),
    CorpusEntry("paper", "paper-K50-M12-s1", 50, 12, 1, "paper", "the paper's set-up, K = 50 (Fig. 8)"),
    CorpusEntry("paper", "paper-K50-M12-s2", 50, 12, 2, "paper", "the paper's set-up, K = 50 (Fig. 8)"),
    CorpusEntry("tiny", "tiny-K3-M2-s1", 3, 2, 1, "tiny", "2-layer encoder, budgets 1-3 GB",
                {"num_layers": 2, "memory_min_gb": 1.0, "memory_max_gb": 3.0}),
    CorpusEntry("tiny", "tiny-K5-M3-s2", 5, 3, 2, "tiny", "top 3 layers of RoBERTa-base, budgets 1-4 GB",
                {"memory_min_gb": 1.0, "memory_max_gb": 4.0}),
    CorpusEntry("tiny", "tiny-K6-M4-s3", 6, 4, 3, "tiny", "4-layer encoder, budgets 1.5-5 GB",
                {"num_layers": 4, "memory_min_gb": 1.5, "memory_max_gb": 5.0}),
    CorpusEntry("edge", "edge-ties-identical-devices", 6, 4, 1, "identical-devices",
                "all devices identical (speed 1, 12 GB, no fading): every column of tcp tied, equal R_k",
                {"compute_factor_min": 1.0, "compute_factor_max": 1.0, "memory_min_gb": 12.0,
                 "memory_max_gb": 12.0, "fading": "none"}),
    CorpusEntry("edge", "edge-ties-equal-compute", 6, 4, 2, "equal-compute",
                "equal computing speed (every column of tcp tied), Rayleigh channels differ",
                {"compute_factor_min": 1.0, "compute_factor_max": 1.0}),
    CorpusEntry("edge", "edge-m-equals-k", 6, 6, 3, "m-equals-k", "M = K = 6: every device takes a block"),
    CorpusEntry("edge", "edge-m-one", 5, 1, 4, "m-one", "M = 1: a single block"),
    CorpusEntry("infeasible", "infeasible-memory-wall", 20, 12, 1, "memory-wall",
                "budgets 4-11 GB: no device holds the deepest block (11.42 GB)",
                {"memory_min_gb": 4.0, "memory_max_gb": 11.0}),
    CorpusEntry("infeasible", "infeasible-m-greater-than-k", 8, 12, 2, "m-greater-than-k",
                "M = 12 blocks > K = 8 devices"),
)


def hand_made_instance() -> Instance:
    """A hand-made 4-device, 3-block instance with ties and a binding memory constraint.

    Equal-bandwidth upload is ``D M / (B R_k)`` = 1/R_k s (D = 1e6 bit,
    B = 3 MHz, M = 3).  Device 2 has a flat row (ties inside a row), devices 1
    and 3 cannot hold the deeper blocks, and block 1 has tied best latencies
    (4 s on devices 0 and 1 before upload), so P1 has several optimal assignments.
    """
    return Instance.from_arrays(
        compute_latency=[[2.0, 3.0, 5.0],
                         [1.0, 4.0, 4.0],
                         [3.0, 3.0, 3.0],
                         [1.0, 2.0, 6.0]],
        block_memory=[1e9, 2e9, 3e9],
        device_memory=[3e9, 2e9, 3e9, 1e9],
        spectral_efficiency=[1.0, 2.0, 0.5, 4.0],
        gradient_bits=1e6,
        bandwidth_hz=3e6,
        name="tiny-hand-made",
        meta={"generator": "hand-made (instances.corpus.hand_made_instance)",
              "corpus": {"folder": "tiny", "property": "tiny",
                         "description": "hand-made: ties within a row and a column, binding memory"}},
    )


def corpus_instances() -> list[tuple[str, Instance]]:
    """Every corpus instance with its folder, in a fixed order."""
    out = [(entry.folder, entry.build()) for entry in CORPUS]
    out.insert(8, ("tiny", hand_made_instance()))
    return out


def build_corpus(root: str | Path) -> list[Path]:
    """Write the corpus under ``root`` (``root/paper/*.json``, ...); returns the paths written.

    Existing files of the same names are overwritten; nothing is deleted.
    """
    root = Path(root)
    written = []
    for folder, inst in corpus_instances():
        path = root / folder / f"{inst.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_instance(inst, path)
        written.append(path)
    return written
