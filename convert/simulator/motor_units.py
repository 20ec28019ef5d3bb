"""Motor units: MUAPs built from single-fibre potentials, pools, recruitment and rate coding.

A motor-unit action potential (MUAP) is the sum of the potentials of the unit's muscle fibres
as seen by the needle (RE §2, CW §2 "Voluntary MUAP"). Each fibre contributes a sharp
triphasic single-fibre potential (the shape of :func:`waveforms.fibrillation`, ~1–3 ms) that is

- smaller the further the fibre is from the needle (amplitude ``exp(-r / pickup)``), and
- broader the further it is (the volume conductor low-passes it: width × ``1 + r / 250 µm``),
- shifted by the fibre's latency (end-plate scatter + conduction along the fibre).

So the one to three nearest fibres give the sharp main spike (rise time ~0.1–0.5 ms, energy up
to 2+ kHz) and the many distant fibres give the low, broad initial and terminal phases that
set the measured duration (~5–15 ms by an amplitude criterion; TA controls 9.35 ± 0.93 ms,
661.5 ± 92 µV, 3.47 phases, 3.35 turns, 5–40 % polyphasic: RE §2 table). A unit far from the
needle (hundreds of µm to mm) has only distant fibres: small and blunt.

Needles (RE §2, same MUAPs in tibialis anterior): a monopolar needle shows ~2.05× amplitude,
~2.64× area and ~1.86× duration of a concentric one, phases and turns alike. Modelled as a wider
pick-up (``PICKUP_UM``: distant fibres count more, hence the longer duration) plus an amplitude
gain (``MONOPOLAR_GAIN``, RE §2), so "the same unit" differs only by the needle.

Muscle states (CW §2, RE §2/§4): myopathic units have lost fibres (few distant fibres → short)
and their fibres vary in size and conduction (polyphasic), small amplitude; neurogenic
(reinnervated) units have gained fibres clustered near each other, with immature, slow
sprouts (long, polyphasic, large).

Firing (:func:`pool_trains`): recruitment thresholds spread exponentially over the effort range
(size principle: small units first); onset rate ~7.6 Hz (interval 132 ± 32 ms), ~11 Hz when the
next unit is recruited, 12–15 Hz at low–moderate effort, up to ~30 Hz at strong effort (CW §2,
Aminoff/Petajan); interval CV 10–35 %, highest near recruitment (RE §2, PMC4469921); a shared
common drive (< 2 Hz) modulates all rates together (RE §2, Dideriksen 2012).

Templates are normalised to a peak-to-peak of 1 and cached per (unit, needle, rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from convert.simulator import discharges as dis
from convert.simulator.subject import MUSCLE_STATES, NEEDLES, Subject

#: Amplitude fall-off length of a fibre's potential with distance from the needle, µm. The
#: concentric needle's small, directional pick-up vs the monopolar's wider one (RE §2: same
#: units, monopolar 1.86× longer; the value is chosen so the duration ratio comes out ≈ 1.86).
PICKUP_UM = {"concentric": 90.0, "monopolar": 175.0}
#: Monopolar / concentric amplitude of the same unit (RE §2: 2.05×, tibialis anterior).
MONOPOLAR_GAIN = 2.05
#: Share of units seen with their main spike inverted. A concentric needle records core minus
#: cannula: fibres lying nearer the cannula than the core (behind the bevel) give a potential of
#: the opposite sign, so one contraction mixes upward and downward main spikes, as the PhysioNet
#: healthy record does (RE §1.1 figure). The share is a chosen value, not a published one; a
#: monopolar needle's reference is on the skin, so its units keep one polarity.
INVERTED_SHARE = {"concentric": 0.3, "monopolar": 0.0}

#: Per muscle state: fibres within the modelled 1.5 mm of the needle (relative), latency
#: field across the territory (relative), fibre-to-fibre latency scatter (ms: end-plate scatter
#: and jitter, what makes a unit polyphasic), fibre width (relative).
_STATE = {
    # TA controls: 9.35 ms, 3.47 phases, 5–40 % polyphasic (RE §2). Fibres within ~300 µm
    # fire within tenths of a ms of each other (SFEMG jitter 20–50 µs, small end-plate scatter).
    "normal": dict(fibres=1.0, scatter=1.0, near_ms=0.12, width=1.0),
    # Myopathy: fibre loss and fibre-size (conduction) variation: short, small, polyphasic.
    "myopathic": dict(fibres=0.35, scatter=1.0, near_ms=0.25, width=0.85),
    # Reinnervation: more fibres per unit, slow immature sprouts: long, large, polyphasic.
    "neurogenic": dict(fibres=1.6, scatter=1.3, near_ms=0.25, width=1.1),
}
_N_FIBRES = 200         # fibres of a normal unit within 1.5 mm of the needle (modelled set)
_TERRITORY_UM = 1500.0  # radius of the modelled set
_SHARPEST_MS = 0.9      # a fibre's potential right at the tip (fibrillation-like, CW §2)
_BLUR_UM = 250.0        # distance over which the potential doubles in width (near fibres)
#: Distant fibres: their potentials also carry the slow initial (end-plate) and terminal
#: (tendon) components of propagation, so their width grows with the square of the distance
#: (width × ``(r / _FAR_UM)²`` more at the unit's nominal duration). These blunt potentials set
#: the measured duration; the near fibres only make the sharp main spike.
_FAR_UM = 350.0
#: Latency field across the territory (ms per unit of (r / territory)², × the unit's
#: ``scatter_ms``): the end-plate band crosses the territory obliquely, so fibres near each
#: other fire together, fibres 1 mm away on either side up to ~2 ms early or late, those
#: within 300 µm of the needle within ~±0.2 ms.
_FIELD = 3.0
#: Pool duration (ms) → ``scatter_ms``, the unit's duration parameter (× 1/5).
_DURATION_PER_SCATTER = 5.0
_NOMINAL_SCATTER_MS = 9.35 / _DURATION_PER_SCATTER  # TA controls' mean duration (RE §2)
_DECAY = 2.0            # amplitude ∝ (1 + Δr / pick-up)^-2


@dataclass(frozen=True)
class Unit:
    """One motor unit as the needle sees it. ``scatter_ms``: SD of fibre latencies (sets the
    duration); ``near_um``: distance of its nearest fibre (tens of µm: a near unit; ≥ 300 µm:
    a distant, small, blunt one); ``shape_seed`` fixes fibre positions and latencies."""

    scatter_ms: float
    near_um: float
    shape_seed: int
    state: str = "normal"
    polyphasic: bool = False


def _fibres(unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fibre distances (µm), latencies (ms), durations (ms) and skews, from the shape seed."""
    st = _STATE[unit.state]
    rng = np.random.default_rng([int(unit.shape_seed), 0x4D55, 2])
    n = max(int(round(_N_FIBRES * st["fibres"] * rng.uniform(0.8, 1.25))), 6)
    # Uniform density in a disc around the needle: r² uniform. The nearest fibre is placed at
    # ``near_um`` (the unit's distance), the rest beyond it.
    r = np.sqrt(unit.near_um ** 2 + rng.random(n) * _TERRITORY_UM ** 2)
    r[0] = unit.near_um
    if unit.state == "neurogenic":  # reinnervated fibres cluster (fibre-type grouping)
        k = max(2, n // 25)
        r[1:k] = unit.near_um + rng.uniform(10.0, 200.0, k - 1)
    # Latency: a smooth function of the fibre's position (the end-plate band crosses the
    # territory obliquely and conduction takes time), flat near the needle and growing with the
    # square of the distance: neighbouring fibres fire nearly together (the near fibres make
    # one sharp bi/triphasic spike), distant fibres on either side early or late (the blunt
    # initial and terminal phases). Plus a small fibre-to-fibre scatter (end-plate scatter and
    # jitter: tenths of a ms at most; larger in myopathic, neurogenic and polyphasic units).
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    rho = r / _TERRITORY_UM
    phi = rng.uniform(0.0, 2.0 * np.pi)
    sd = unit.scatter_ms * st["scatter"]
    lat = sd * (_FIELD * rho ** 2 * np.cos(theta - phi) + 0.8 * (rho ** 2 - 0.5) * rng.choice([-1.0, 1.0]))
    lat = lat + rng.normal(0.0, st["near_ms"] * (4.0 if unit.polyphasic else 1.0), n)
    lat = lat - lat[0]
    far = (r / _FAR_UM) ** 2 * (unit.scatter_ms / _NOMINAL_SCATTER_MS)
    d = _SHARPEST_MS * st["width"] * rng.uniform(0.85, 1.2, n) * (1.0 + r / _BLUR_UM + far)
    return r, lat, d, rng.uniform(-1.0, 1.0, n)


@lru_cache(maxsize=512)
def _template(unit: Unit, needle: str, sample_rate: float) -> np.ndarray:
    r, lat, d, skew = _fibres(unit)
    a = (1.0 + (r - r.min()) / PICKUP_UM[needle]) ** -_DECAY
    keep = a > 1e-3
    r, lat, d, skew, a = r[keep], lat[keep], d[keep], skew[keep], a[keep]
    lo = float(np.min(lat - 0.6 * d)) - 0.5
    hi = float(np.max(lat + 0.6 * d)) + 0.5
    t = lo + np.arange(max(int(np.ceil((hi - lo) * sample_rate / 1000.0)), 4)) * (1000.0 / sample_rate)
    v = np.zeros_like(t)
    for chunk in np.array_split(np.arange(len(a)), max(1, len(a) // 32)):
        v += _weighted(t, lat[chunk], d[chunk], skew[chunk], a[chunk])
    v = v - np.linspace(v[0], v[-1], len(v))
    pp = float(v.max() - v.min())
    if pp <= 0.0:
        raise ValueError("degenerate MUAP")
    out = v / pp
    if np.random.default_rng([int(unit.shape_seed), 0x4D55, 4]).random() < INVERTED_SHARE[needle]:
        out = -out
    out.setflags(write=False)
    return out


#: A single-fibre potential's three lobes: (offset, width, amplitude, skew gain) in units of its
#: duration, and the ratio of each lobe's falling to rising width. The main negative lobe rises
#: fast (depolarisation) and returns more slowly (repolarisation), and the terminal positivity is
#: broad: with symmetric lobes (simulator 1.4.0) the normal TA units had an area/amplitude
#: ("thickness") of 0.77 ms against the controls' 851.5 µV·ms / 661.5 µV = 1.29 ms (RE §2) and
#: their energy sat too high in frequency (RE §1.1); these widths give ~1.0 ms at a rise time of
#: ~0.45 ms (the QEMG acceptance limit is 0.5 ms).
_LOBES = ((-0.26, 0.085, 0.32, 0.1, 1.0), (0.0, 0.075, -1.0, 0.0, 1.5), (0.3, 0.11, 0.45, -0.1, 1.3))


def _weighted(t, lat, d, skew, a) -> np.ndarray:
    """Sum of triphasic single-fibre potentials (waveforms.fibrillation's three lobes, main
    phase negative at the fibre's latency), each of duration ``d`` ms and weight ``a``."""
    out = np.zeros_like(t)
    for off, w, a0, da, fall in _LOBES:
        c = lat + off * d
        amp = a * (a0 + da * skew)
        u = t[None, :] - c[:, None]
        wd = w * d[:, None]
        u = np.where(u > 0.0, u / fall, u)
        out += amp @ np.exp(-0.5 * (u / wd) ** 2)
    return out


def muap(unit: Unit, needle: str, sample_rate: float) -> np.ndarray:
    """The unit's MUAP through ``needle`` at ``sample_rate``: peak-to-peak 1, read-only."""
    if needle not in NEEDLES:
        raise ValueError(f"needle = {needle!r}: allowed values are {', '.join(NEEDLES)}")
    if unit.state not in MUSCLE_STATES:
        raise ValueError(f"muscle state = {unit.state!r}: allowed values are {', '.join(MUSCLE_STATES)}")
    return _template(unit, needle, float(sample_rate))


def needle_gain(needle: str) -> float:
    """Amplitude of a unit through ``needle`` relative to a concentric needle (RE §2)."""
    return MONOPOLAR_GAIN if needle == "monopolar" else 1.0


def unit_of(subject: Subject, i: int, duration_ms: float | None = None) -> Unit:
    """Unit ``i`` of the subject's pool (near the needle: nearest fibre 25–120 µm, fixed by
    its shape seed). ``duration_ms`` overrides the pool's duration (e.g. a brief unit)."""
    seed = int(subject.mu_shape_seed[i])
    near = float(np.random.default_rng([seed, 0x4D55, 3]).uniform(25.0, 120.0))
    dur = subject.mu_duration_ms[i] if duration_ms is None else float(duration_ms)
    return Unit(scatter_ms=dur / _DURATION_PER_SCATTER, near_um=near, shape_seed=seed,
                state=subject.muscle_state, polyphasic=subject.mu_phases[i] > 4)


def distant_unit(rng: np.random.Generator, state: str) -> Unit:
    """A unit whose nearest fibre is 0.3–1.5 mm from the needle: small and blunt (volume
    conduction low-passes it); many of them make the never-quiet baseline of a contraction."""
    return Unit(scatter_ms=rng.uniform(8.0, 12.0) / _DURATION_PER_SCATTER,
                near_um=float(np.exp(rng.uniform(np.log(300.0), np.log(1500.0)))),
                shape_seed=int(rng.integers(2**31 - 1)), state=state)


# ---------------------------------------------------------------------------------------
# Firing: recruitment and rate coding
# ---------------------------------------------------------------------------------------

#: Firing-rate law per muscle state: onset rate, rate the unit has reached when the next unit
#: is recruited (normal ~11 Hz, CW §2 recruitment interval 90 ± 19 ms), low–moderate ceiling
#: (normal 12–15 Hz; neurogenic "few units firing fast, 15–30 Hz", CW §2), strong-effort gain.
_RATES = {
    "normal": dict(onset=7.6, ceiling=15.0, kappa=1.7),
    "myopathic": dict(onset=7.6, ceiling=15.0, kappa=1.7),
    "neurogenic": dict(onset=7.6, ceiling=26.0, kappa=1.2),
}
_MAX_EXTRA_HZ = 15.0  # strong effort adds up to 15 Hz: ~30 Hz at MVC (CW §2: max ~30–50 Hz)


def thresholds(n: int, state: str, lo: float = 0.005, hi: float = 0.6) -> np.ndarray:
    """Recruitment thresholds (fraction of MVC), exponentially spaced, smallest units first
    (size principle). Myopathic muscle recruits early (each unit gives little force: the
    range is compressed to low effort, "full pattern at low force"); neurogenic muscle has
    lost units, which the caller expresses by a smaller ``n`` over the same range."""
    if state == "myopathic":
        hi = hi * 0.3
    if n == 1:
        return np.array([lo])
    return lo * (hi / lo) ** (np.arange(n) / (n - 1))


def firing_rates(effort: np.ndarray, thr: np.ndarray, spacing: float, state: str) -> tuple[np.ndarray, np.ndarray]:
    """Rates (Hz, units × time) and the excitation above threshold in recruitment steps.

    ``spacing``: ratio of successive normal thresholds, so that "one step" is the effort
    increase that recruits the next unit in a normal pool (a depleted neurogenic pool then
    reaches several steps, i.e. fires fast, before its next unit)."""
    law = _RATES[state]
    steps = np.log(np.maximum(effort[None, :], 1e-6) / thr[:, None]) / np.log(spacing)
    on = steps >= 0.0
    s = np.maximum(steps, 0.0)
    rate = law["onset"] + (law["ceiling"] - law["onset"]) * (1.0 - np.exp(-s / law["kappa"]))
    rate = rate + _MAX_EXTRA_HZ * np.clip((effort[None, :] - 0.3) / 0.7, 0.0, 1.0)
    return np.where(on, rate, 0.0), np.where(on, s, -1.0)


def interval_cv(steps: np.ndarray) -> np.ndarray:
    """ISI coefficient of variation: ~0.32 at recruitment falling to ~0.12 above it (RE §2:
    10–30 %, 35.8 % near recruitment; synaptic noise dominates at low effort)."""
    return 0.11 + 0.21 * np.exp(-np.maximum(steps, 0.0) / 1.2)


def common_drive(rng: np.random.Generator, n_steps: int, step_s: float, depth: float) -> np.ndarray:
    """A shared multiplicative modulation (mean 1) below ~2 Hz (RE §2, Dideriksen 2012):
    smooth random knots every 0.25 s."""
    n_knots = int(n_steps * step_s / 0.25) + 3
    knots = rng.standard_normal(n_knots)
    x = np.interp(np.arange(n_steps) * step_s / 0.25, np.arange(n_knots), knots)
    return 1.0 + depth * x


def pool_trains(rng: np.random.Generator, effort: np.ndarray, step_s: float, thr: np.ndarray,
                spacing: float, state: str, drive_depth: float = 0.05) -> list[np.ndarray]:
    """Firing times (s) of each unit of a pool for an effort path sampled every ``step_s``."""
    drive = common_drive(rng, len(effort), step_s, drive_depth)
    rates, steps = firing_rates(effort * drive, thr, spacing, state)
    out = []
    for i in range(len(thr)):
        if not rates[i].any():
            out.append(np.zeros(0))
            continue
        out.append(dis.renewal_train(rng, rates[i], step_s, interval_cv(steps[i])))
    return out
