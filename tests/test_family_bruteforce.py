"""The problem family's corpus (``instances/family/``) and its brute-force optima.

Every file of the folder is a ``deft-instance/2`` instance written by
``instances.generate`` (the command is in ``meta["command"]``), with, for the
small ones, the brute-force optima of ``tests/bruteforce.py`` in its ``meta``:
``optimum_p1_s`` / ``optimum_p2_s`` (seconds, ``null`` when no assignment
exists) and ``optimum_p1_assignment`` / ``optimum_p2_assignment`` (the device
of each block).  The tests recompute them; ``FAMILY`` lists what each file
advertises.  Rewrite the folder with::

    python -m tests.test_family_bruteforce
"""
from __future__ import annotations

import itertools
import json
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from instances import Instance, load_instance, save_instance
from tests.bruteforce import (
    brute_force_family_p1,
    brute_force_family_p2,
    brute_force_p1,
    brute_force_p2,
    family_assignments,
    family_p1_latency,
    family_p2_latency,
)

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "instances" / "family"
#: Instances with at most this many maps K^M are brute-forced (and carry the optima).
BRUTE_FORCE_MAPS = 10_000


@dataclass(frozen=True)
class FamilyEntry:
    """One file ``instances/family/<name>.json``: the generator's arguments and what it shows."""

    name: str
    args: str
    family: frozenset
    feasible: bool
    description: str

    @property
    def command(self) -> str:
        return f"python -m instances.generate {self.args} --name {self.name} --out instances/family/{self.name}.json"


FAMILY = (
    FamilyEntry("g1-k4-m4", "-K 4 -M 4 --layers 4 --memory-gb 1.5 5 --ranks 8,4,16,2 --seed 1",
                frozenset({"G1"}), True, "per-block ranks 8, 4, 16, 2 (G1 only), budgets that bind"),
    FamilyEntry("g2-k3-m4", "-K 3 -M 4 --layers 4 --memory-gb 2 5 --max-blocks 2 --seed 1",
                frozenset({"G2"}), True, "K = 3 < M = 4, feasible because each device takes up to 2 blocks (G2 only)"),
    FamilyEntry("g1g2-k4-m5", "-K 4 -M 5 --layers 5 --memory-gb 2 6 --ranks 2:16 --max-blocks 1:3 --seed 2",
                frozenset({"G1", "G2"}), True, "drawn ranks 2..16 and block counts 1..3 (G1 and G2)"),
    FamilyEntry("g1g2-k2-m4", "-K 2 -M 4 --layers 4 --memory-gb 3 5 --ranks 4,8,8,16 --max-blocks 2,3 --seed 4",
                frozenset({"G1", "G2"}), True, "two devices for four blocks (c = 2, 3), ranks 4, 8, 8, 16"),
    FamilyEntry("g2-k2-m5-infeasible", "-K 2 -M 5 --layers 5 --memory-gb 5 6 --max-blocks 2 --seed 1 "
                "--allow-infeasible",
                frozenset({"G2"}), False, "infeasible by capacity: two devices take at most 4 of the 5 blocks"),
    FamilyEntry("g2-k3-m4-room-wall", "-K 3 -M 4 --layers 4 --memory-gb 1.5 4.5 --max-blocks 1,1,2 --seed 11 "
                "--allow-infeasible",
                frozenset({"G2"}), False, "infeasible by capacity and memory: 4 places in all, but the devices "
                                         "that hold the deepest blocks have too few of them"),
    FamilyEntry("g2-k8-m12", "-K 8 -M 12 --max-blocks 2:3 --seed 1",
                frozenset({"G2"}), True, "the paper's RoBERTa-base blocks (M = 12) on K = 8 devices taking 2 or 3 "
                                         "blocks each (too large for brute force: 8^12 maps)"),
)


def generate(entry: FamilyEntry) -> Instance:
    """The instance the entry's command writes (``instances.generate``'s own parser and generator)."""
    from instances.generate import (
        ScenarioParams,
        _overrides,
        _parser,
        generate_instance,
    )

    args = _parser().parse_args(shlex.split(entry.args))
    params = ScenarioParams.with_overrides(None, **_overrides(args))
    return generate_instance(args.devices, args.blocks, args.seed, params, name=entry.name,
                             allow_infeasible=args.allow_infeasible)


def build(entry: FamilyEntry) -> Instance:
    """The entry's instance with ``meta`` completed: command, corpus entry and (small instances) the optima."""
    inst = generate(entry)
    meta = dict(inst.meta)
    meta["command"] = entry.command
    meta["corpus"] = {"folder": "family", "property": "+".join(sorted(entry.family)),
                      "description": entry.description}
    if inst.K ** inst.M <= BRUTE_FORCE_MAPS:
        for problem, oracle in (("p1", brute_force_family_p1), ("p2", brute_force_family_p2)):
            best = oracle(inst)
            meta[f"optimum_{problem}_s"] = None if best is None else best[0]
            meta[f"optimum_{problem}_assignment"] = None if best is None else list(best[1])
        meta["optimum_method"] = "tests/bruteforce.py: brute_force_family_p1, brute_force_family_p2 (every map)"
    return Instance.from_arrays(inst.compute_latency, inst.block_memory, inst.device_memory,
                                inst.spectral_efficiency, inst.gradient_bits, inst.bandwidth_hz, name=inst.name,
                                meta=meta, device_max_blocks=inst.device_max_blocks)


def build_family(folder: Path = FOLDER) -> list[Path]:
    """Write every entry of :data:`FAMILY` into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in FAMILY:
        path = folder / f"{entry.name}.json"
        save_instance(build(entry), path)
        written.append(path)
    return written


def family_files() -> list[Path]:
    return sorted(FOLDER.glob("*.json"))


# --------------------------------------------------------------------------------------
# The folder
# --------------------------------------------------------------------------------------
def test_folder_holds_exactly_the_entries():
    assert sorted(p.stem for p in family_files()) == sorted(e.name for e in FAMILY)
    assert 5 <= len(FAMILY) <= 8


@pytest.mark.parametrize("entry", FAMILY, ids=lambda e: e.name)
def test_file_is_what_its_command_writes(entry):
    """Loads as deft-instance/2 with the advertised features; the generator rebuilds its data exactly."""
    path = FOLDER / f"{entry.name}.json"
    inst = load_instance(path)
    assert json.loads(path.read_text())["format"] == "deft-instance/2"
    assert inst.family == entry.family and not inst.paper_model
    assert inst.meta["command"] == entry.command and inst.meta["corpus"]["folder"] == "family"
    fresh = generate(entry).to_dict()
    shipped = inst.to_dict()
    assert {k: v for k, v in fresh.items() if k != "meta"} == {k: v for k, v in shipped.items() if k != "meta"}
    assert {k: v for k, v in shipped["meta"].items() if k in fresh["meta"]} == fresh["meta"]


def test_file_bytes_regenerate(tmp_path):
    written = build_family(tmp_path)
    for path in written:
        assert path.read_bytes() == (FOLDER / path.name).read_bytes(), path.name


def test_the_folder_covers_the_family():
    by_name = {e.name: load_instance(FOLDER / f"{e.name}.json") for e in FAMILY}
    small = [i for i in by_name.values() if i.K ** i.M <= BRUTE_FORCE_MAPS]
    assert all(i.K <= 5 and i.M <= 5 for i in small)
    assert any(i.K < i.M and i.meta["optimum_p1_s"] is not None for i in small)      # K < M, feasible
    assert any(i.family == {"G1"} for i in small) and any(i.family == {"G2"} for i in small)
    assert any(i.family == {"G1", "G2"} for i in small)
    infeasible = [i for i in small if i.meta["optimum_p1_s"] is None]
    assert infeasible and all(i.meta["optimum_p2_s"] is None for i in infeasible)
    big = by_name["g2-k8-m12"]
    assert (big.K, big.M) == (8, 12) and big.device_max_blocks.max() > 1 and "optimum_p1_s" not in big.meta


@pytest.mark.parametrize("entry", FAMILY, ids=lambda e: e.name)
def test_meta_optima_are_the_brute_force_optima(entry):
    inst = load_instance(FOLDER / f"{entry.name}.json")
    if inst.K ** inst.M > BRUTE_FORCE_MAPS:
        pytest.skip("too large for brute force")
    for problem, oracle, latency in (("p1", brute_force_family_p1, family_p1_latency),
                                     ("p2", brute_force_family_p2, family_p2_latency)):
        best = oracle(inst)
        claimed, devices = inst.meta[f"optimum_{problem}_s"], inst.meta[f"optimum_{problem}_assignment"]
        assert (best is None) == (claimed is None) == (not entry.feasible)
        if best is None:
            assert devices is None
            continue
        assert best[0] == pytest.approx(claimed, rel=1e-9)
        assert latency(inst, tuple(devices)) == pytest.approx(claimed, rel=1e-9)
        assert tuple(devices) in set(family_assignments(inst))
    if entry.feasible:
        assert inst.meta["optimum_p2_s"] <= inst.meta["optimum_p1_s"] * (1 + 1e-12)   # P2 may split as P1 does


def test_infeasible_entries_have_an_independent_reason():
    wall = load_instance(FOLDER / "g2-k3-m4-room-wall.json")
    count = load_instance(FOLDER / "g2-k2-m5-infeasible.json")
    assert int(count.device_max_blocks.sum()) < count.M                   # too few places in all
    assert int(wall.device_max_blocks.sum()) >= wall.M
    # Hall's condition for the deepest blocks: the devices that hold block j take fewer than M - j blocks
    prefix = wall.memory_prefix
    assert any(int(wall.device_max_blocks[prefix > j].sum()) < wall.M - j for j in range(wall.M))


# --------------------------------------------------------------------------------------
# The family brute force itself
# --------------------------------------------------------------------------------------
def _small(**kw) -> Instance:
    base = dict(compute_latency=[[1.0, 2.0, 3.0], [2.0, 2.0, 4.0]], block_memory=[1.0, 1.0, 1.0],
                device_memory=[1.0, 1.0], spectral_efficiency=[1.0, 2.0], gradient_bits=[4.0, 2.0, 6.0],
                bandwidth_hz=3.0, device_max_blocks=[2, 2], name="small")
    base.update(kw)
    return Instance.from_arrays(**base)


def test_family_formulas_by_hand():
    """Blocks 0, 2 on device 0 and block 1 on device 1, numbers worked out by hand."""
    inst = _small()
    devices = (0, 1, 0)
    # P1: device 0: tcp[0, 2] = 3, U = 10 bits, B_0 = 2 * 3 / 3 = 2 Hz, R = 1: 3 + 10 / 2 = 8
    #     device 1: tcp[1, 1] = 2, U = 2 bits, B_1 = 1 Hz, R = 2: 2 + 2 / 2 = 3
    assert family_p1_latency(inst, devices) == 8.0
    # P2: 10 / (T - 3) + 1 / (T - 2) = 3  <=>  3T^2 - 26T + 41 = 0, the larger root
    root = (26 + math.sqrt(26 ** 2 - 4 * 3 * 41)) / 6
    assert family_p2_latency(inst, devices) == pytest.approx(root, rel=1e-12)
    assert 10 / (root - 3) + 1 / (root - 2) == pytest.approx(3.0, rel=1e-12)


def test_family_maps_respect_capacity_and_memory():
    inst = _small(device_max_blocks=[2, 1], device_memory=[1.0, 0.5])
    maps = list(family_assignments(inst))
    assert maps == []                                   # device 1 holds no block, device 0 only 2
    inst = _small(device_max_blocks=[3, 1], device_memory=[1.0, 0.5])
    assert list(family_assignments(inst)) == [(0, 0, 0)]
    best = brute_force_family_p1(inst)
    assert best == (3.0 + 12.0 / 3.0, (0, 0, 0))        # one device, the whole band: U / (R B)
    assert brute_force_family_p2(inst)[0] == pytest.approx(7.0, rel=1e-12)
    assert brute_force_family_p1(_small(device_max_blocks=[1, 1])) is None   # 2 places, 3 blocks


def test_family_counts_every_map():
    """Without memory limits, the maps are the words of length M with each device used at most c_k times."""
    inst = _small(device_max_blocks=[2, 3])
    expected = [w for w in itertools.product(range(2), repeat=3) if w.count(0) <= 2 and w.count(1) <= 3]
    assert list(family_assignments(inst)) == expected


@pytest.mark.parametrize("seed", range(40))
def test_family_brute_force_agrees_with_the_paper_brute_force(seed):
    """On paper-model instances (all c_k = 1, one D) both oracles give the same optima."""
    inst = _paper_instance(seed)
    assert inst.paper_model
    for family, paper in ((brute_force_family_p1, brute_force_p1), (brute_force_family_p2, brute_force_p2)):
        best, reference = family(inst), paper(inst)
        assert (best is None) == (reference is None)
        if best is not None:
            assert best[0] == pytest.approx(reference, rel=1e-9)
            assert len(set(best[1])) == inst.M                 # injective: one block per device


def _paper_instance(seed: int) -> Instance:
    """A random paper-model instance (K <= 5, M <= 4, memory walls and M > K included)."""
    rng = np.random.default_rng(seed)
    K, M = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    tcp = np.cumsum(rng.uniform(0.0, 2.0, size=(K, M)), axis=1)
    mu = np.sort(rng.integers(1, 4, size=M)).astype(float)
    cap = rng.integers(1, 4, size=K).astype(float)
    rate = rng.uniform(0.2, 4.0, size=K)
    return Instance.from_arrays(tcp, mu, cap, rate, float(rng.choice([1.0, 10.0])), float(rng.choice([1.0, 10.0])),
                                name=f"paper-{seed}")


@pytest.mark.parametrize("seed", range(20))
def test_more_places_never_hurt(seed):
    """Raising every c_k (or splitting D evenly) can only keep or lower the optimum: a sanity check of the oracle."""
    base = _paper_instance(seed)
    more = Instance.from_arrays(base.compute_latency, base.block_memory, base.device_memory,
                                base.spectral_efficiency, base.gradient_bits, base.bandwidth_hz,
                                device_max_blocks=[2] * base.K)
    for oracle in (brute_force_family_p1, brute_force_family_p2):
        a, b = oracle(base), oracle(more)
        if a is not None:
            assert b is not None and b[0] <= a[0] * (1 + 1e-12)


if __name__ == "__main__":
    for written in build_family(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER):
        print(written)
