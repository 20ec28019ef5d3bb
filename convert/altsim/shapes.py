"""Potential waveforms, in µV, sampled at the output rate (Hz); times in ms.

Single-fibre potentials come from a line-source model of a propagating action potential:

* the intracellular action potential along the fibre is Rosenfalck's
  ``Vm(u) = 96 u^3 exp(-u) - 90`` mV (``u`` in mm behind the travelling front), so the
  membrane current density is proportional to its second derivative
  ``(6u - 6u^2 + u^3) exp(-u)``: outward at the front, inward at the peak, outward in the tail
  (a tripole);
* the potential at an electrode at radial distance ``r`` (mm) and axial position ``x_e`` (mm,
  from the fibre's origin) is the sum of the current elements weighted by
  ``1 / sqrt(K r^2 + (x - x_e)^2)`` with the anisotropy ratio ``K = 5`` (muscle conducts about
  five times better along the fibres than across them; a textbook order of magnitude, our
  choice);
* the fibre is finite: two waves leave the origin (end-plate or spontaneous pacemaker) in
  opposite directions at the conduction velocity and vanish at the fibre's ends, so the
  potential is born at the origin and dies at the tendon (onset and terminal phases), and an
  electrode away from the origin sees the approaching front first (initial positive), one at
  the origin sees the inward current first (initial negative).

Absolute amplitudes of the model are arbitrary: every potential is scaled to a peak-to-peak
amplitude drawn from the reference ranges (``clinical-waveforms.md``), and, where a duration is
drawn, stretched in time to it (the model supplies the shape: phases, asymmetry, tails).
Motor-unit potentials (MUAPs) are sums of such fibre potentials with scattered distances,
end-plate positions and conduction velocities. Positive sharp waves and end-plate noise
(miniature end-plate potentials) are parametric shapes described at their functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convert.altsim._check import check_pair, check_range

#: Spatial step of the line-source model (mm).
DX_MM = 0.05
#: Extent of the action potential behind its front that carries current (mm).
AP_LENGTH_MM = 25.0
#: Anisotropy ratio (axial / radial conductivity) of muscle; our choice, see module docstring.
ANISOTROPY = 5.0
#: Fine time grid (ms) on which shapes are built before resampling to the output rate.
FINE_DT_MS = 0.005
#: Amplitude criterion (fraction of the largest absolute value) of :func:`duration_ms`; our choice.
DURATION_FRACTION = 0.05


def membrane_current(u_mm: np.ndarray) -> np.ndarray:
    """Rosenfalck's membrane current density (arbitrary units) at ``u_mm`` behind the front."""
    u = np.asarray(u_mm, dtype=np.float64)
    return np.where(u >= 0, (6 * u - 6 * u**2 + u**3) * np.exp(-u), 0.0)  # d2/du2 of u^3 exp(-u)


def membrane_slope(u_mm: np.ndarray) -> np.ndarray:
    """Slope ``dVm/du`` of Rosenfalck's action potential (same units as :func:`membrane_current`
    times mm), zero ahead of the front (``u < 0``)."""
    u = np.asarray(u_mm, dtype=np.float64)
    return np.where(u >= 0, (3 * u**2 - u**3) * np.exp(-u), 0.0)


def fibre_potential(r_mm: float, cv_m_s: float, electrode_x_mm: float, minus_len_mm: float,
                    plus_len_mm: float, duration_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Potential (arbitrary units) of one fibre firing at ``t = 0`` from its origin at ``x = 0``.

    ``r_mm``: radial distance of the electrode (mm); ``cv_m_s``: conduction velocity (m/s, the
    same number as mm/ms); ``electrode_x_mm``: axial position of the electrode (mm, origin 0);
    ``minus_len_mm`` / ``plus_len_mm``: fibre length on either side of the origin (mm);
    ``duration_ms``: length of the result. Returns ``(t_ms, phi)`` on the model's own time grid
    (``DX_MM / cv`` ms per step).
    """
    check_range("r_mm", r_mm, 0.005, 50.0)
    check_range("cv_m_s", cv_m_s, 0.5, 10.0)
    dt_ms = DX_MM / cv_m_s
    n = int(np.ceil(duration_ms / dt_ms)) + 1
    current = membrane_current(np.arange(0.0, AP_LENGTH_MM, DX_MM))
    front = np.arange(n) * DX_MM  # distance of the front from the origin at each step (mm)
    phi = np.zeros(n)
    kr2 = ANISOTROPY * r_mm**2
    for sign, length in ((+1.0, plus_len_mm), (-1.0, minus_len_mm)):
        x = sign * np.arange(0.0, length + DX_MM / 2, DX_MM)
        weight = 1.0 / np.sqrt(kr2 + (x - electrode_x_mm) ** 2)
        # at step k the front is k*DX from the origin; the element u = j*DX behind it sits at
        # (k - j)*DX and exists only inside the fibre: a plain convolution of current and weight.
        c = np.convolve(current, weight)
        m = min(n, len(c))
        phi[:m] += c[:m] * DX_MM
        # Point sources that keep the fibre's net membrane current zero (sealed ends): at the
        # origin, where the two waves part, the kink of Vm draws an inward current -dVm/du
        # (split between the two waves); at the tendon end the outflow +dVm/du as the wave dies.
        phi -= membrane_slope(front) * weight[0]
        phi += membrane_slope(front - x.size * DX_MM + DX_MM) * weight[-1]
    return np.arange(n) * dt_ms, phi


def on_fine_grid(t_ms: np.ndarray, x: np.ndarray, delay_ms: float, length_ms: float) -> np.ndarray:
    """``x(t - delay)`` on the fine grid (``FINE_DT_MS``) of ``length_ms``, zero outside ``t_ms``."""
    t = np.arange(int(round(length_ms / FINE_DT_MS))) * FINE_DT_MS - delay_ms
    return np.interp(t, t_ms, x, left=0.0, right=0.0)


def duration_ms(x: np.ndarray, fs_hz: float, fraction: float = DURATION_FRACTION) -> float:
    """Time (ms) from the first to the last sample whose magnitude reaches ``fraction`` of the
    largest magnitude (an amplitude criterion for onset and end)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    if not a.size or a.max() == 0:
        return 0.0
    idx = np.flatnonzero(a >= fraction * a.max())
    return float(idx[-1] - idx[0] + 1) * 1000.0 / fs_hz


def peak_to_peak(x: np.ndarray) -> float:
    """Peak-to-peak amplitude in the units of ``x``."""
    x = np.asarray(x)
    return float(x.max() - x.min()) if x.size else 0.0


def _trim(x: np.ndarray, keep: float = 0.005) -> np.ndarray:
    """Cut leading/trailing stretches below ``keep`` of the peak magnitude, tapering the cut
    ends over 5 % of the kept length each so no step is left."""
    a = np.abs(x)
    if a.max() == 0:
        return x
    idx = np.flatnonzero(a >= keep * a.max())
    y = x[idx[0]:idx[-1] + 1].copy()
    m = max(2, len(y) // 20)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, m))
    y[:m] *= ramp
    y[-m:] *= ramp[::-1]
    return y


def render(fine: np.ndarray, fs_hz: float, p2p_uv: float, target_duration_ms: float | None = None) -> np.ndarray:
    """A fine-grid shape as a waveform at ``fs_hz``: trimmed, stretched in time so that
    :func:`duration_ms` is ``target_duration_ms`` (if given), scaled to ``p2p_uv`` µV
    peak-to-peak. The first sample is the potential's onset."""
    check_range("p2p_uv", p2p_uv, 0.0, 1e5)
    y = _trim(np.asarray(fine, dtype=np.float64))
    stretch = 1.0
    if target_duration_ms is not None:
        check_range("target_duration_ms", target_duration_ms, 0.05, 500.0)
        d0 = duration_ms(y, 1000.0 / FINE_DT_MS)
        stretch = target_duration_ms / d0 if d0 > 0 else 1.0
    t_fine = np.arange(len(y)) * FINE_DT_MS * stretch
    t_out = np.arange(int(np.floor(t_fine[-1] * fs_hz / 1000.0)) + 1) * 1000.0 / fs_hz
    out = np.interp(t_out, t_fine, y)
    p = peak_to_peak(out)
    return out * (p2p_uv / p) if p > 0 else out


# ------------------------------------------------------------------ single fibre

def sfap(rng: np.random.Generator, fs_hz: float, p2p_uv: float, duration_ms_: float | None,
         origin_distance_mm: tuple[float, float] = (2.0, 20.0), r_mm: tuple[float, float] = (0.02, 0.3),
         cv_m_s: tuple[float, float] = (2.5, 4.5)) -> np.ndarray:
    """One single-fibre potential (µV at ``fs_hz``): electrode ``origin_distance_mm`` (mm, drawn)
    along the fibre from where the discharge starts, ``r_mm`` (mm, drawn) from its axis.

    Away from the origin (a few mm or more) the potential is initial-positive and triphasic, as
    fibrillation potentials recorded away from their site of origin; at the origin (distance
    near 0) it is initial-negative, as end-plate spikes. Fibre lengths on either side: 30–70 mm
    (our choice, limb muscle fibres). Conduction velocity 2.5–4.5 m/s by default (fibrillating
    fibres are atrophic and conduct slowly; our choice of range).
    """
    x_e = rng.uniform(*origin_distance_mm) * rng.choice([-1.0, 1.0])
    r = rng.uniform(*r_mm)
    cv = rng.uniform(*cv_m_s)
    lm, lp = rng.uniform(30.0, 70.0, size=2)
    t, phi = fibre_potential(r, cv, x_e, lm, lp, duration_ms=(max(lm, lp) + AP_LENGTH_MM) / cv)
    fine = on_fine_grid(t, phi, 0.0, t[-1])
    return render(fine, fs_hz, p2p_uv, duration_ms_)


# ------------------------------------------------------------------ motor-unit potentials

@dataclass(frozen=True)
class MuapSpec:
    """How one motor-unit potential is built (distances mm, velocities m/s, times ms).

    n_fibres: fibres of the unit within the pickup radius of the needle, 1–400.
    pickup_mm: (min, max) radial distance of those fibres from the needle (mm).
    endplate_scatter_mm: standard deviation of the end-plate positions along the fibres (mm).
    electrode_x_mm: (min, max) axial distance of the needle from the end-plate zone (mm).
    cv_m_s: mean conduction velocity (m/s); cv_sd_m_s its fibre-to-fibre standard deviation.
    extra_latency_ms: standard deviation of extra per-fibre latency (terminal axon branches,
        immature or re-innervating fibres); large values make polyphasic potentials.
    """

    n_fibres: int = 20
    pickup_mm: tuple[float, float] = (0.05, 1.5)
    endplate_scatter_mm: float = 1.0
    electrode_x_mm: tuple[float, float] = (3.0, 25.0)
    cv_m_s: float = 4.0
    cv_sd_m_s: float = 0.3
    extra_latency_ms: float = 0.2

    def __post_init__(self) -> None:
        check_range("n_fibres", self.n_fibres, 1, 400)
        check_pair("pickup_mm", self.pickup_mm, 0.01, 20.0)
        check_range("endplate_scatter_mm", self.endplate_scatter_mm, 0.0, 20.0)
        check_pair("electrode_x_mm", self.electrode_x_mm, 0.0, 60.0)
        check_range("cv_m_s", self.cv_m_s, 1.0, 8.0)
        check_range("cv_sd_m_s", self.cv_sd_m_s, 0.0, 2.0)
        check_range("extra_latency_ms", self.extra_latency_ms, 0.0, 10.0)


def muap_fine(rng: np.random.Generator, spec: MuapSpec) -> np.ndarray:
    """A motor-unit potential on the fine grid (arbitrary units): the sum of ``n_fibres`` fibre
    potentials. Fibres lie uniformly over the pickup annulus (area-uniform radius), with
    end-plates scattered along the fibre, their own conduction velocity and extra latency."""
    lo, hi = spec.pickup_mm
    r = np.sqrt(rng.uniform(lo**2, hi**2, size=spec.n_fibres))
    x_zone = rng.uniform(*spec.electrode_x_mm) * rng.choice([-1.0, 1.0])
    x_e = x_zone + rng.normal(0.0, spec.endplate_scatter_mm, size=spec.n_fibres)
    cv = np.clip(rng.normal(spec.cv_m_s, spec.cv_sd_m_s, size=spec.n_fibres), 1.5, 7.0)
    lat = np.abs(rng.normal(0.0, spec.extra_latency_ms, size=spec.n_fibres))
    lm = rng.uniform(30.0, 70.0, size=spec.n_fibres)
    lp = rng.uniform(30.0, 70.0, size=spec.n_fibres)
    span = float(np.max((np.maximum(lm, lp) + AP_LENGTH_MM) / cv + lat)) + 1.0
    total = np.zeros(int(round(span / FINE_DT_MS)))
    for i in range(spec.n_fibres):
        t, phi = fibre_potential(r[i], cv[i], x_e[i], lm[i], lp[i], (max(lm[i], lp[i]) + AP_LENGTH_MM) / cv[i])
        total += on_fine_grid(t, phi, lat[i], span)
    return total


def muap(rng: np.random.Generator, fs_hz: float, p2p_uv: float, duration_ms_: float | None,
         spec: MuapSpec) -> np.ndarray:
    """A motor-unit potential (µV at ``fs_hz``) of ``p2p_uv`` µV peak-to-peak; stretched to
    ``duration_ms_`` ms (amplitude criterion, :func:`duration_ms`) unless None."""
    return render(muap_fine(rng, spec), fs_hz, p2p_uv, duration_ms_)


# ------------------------------------------------------------------ parametric shapes

def positive_sharp_wave(rng: np.random.Generator, fs_hz: float, p2p_uv: float, total_ms: float) -> np.ndarray:
    """A positive sharp wave (µV at ``fs_hz``, positive = positive voltage) lasting ``total_ms``
    (10–30 ms in the reference): a sharp positive onset (rise time constant 0.1–0.4 ms) and a
    positive phase falling back to baseline by 1.5–4 ms (at most 30 % of the total), then a
    long low negative phase (peak 10–30 % of the positive one, reached a third of the way in)
    returning slowly to baseline at ``total_ms``. The time constants and the negative/positive
    ratio are our choice; the reference gives the shape and the total duration only.
    """
    check_range("total_ms", total_ms, 1.0, 200.0)
    tau_r = rng.uniform(0.1, 0.4)
    t_pos = min(rng.uniform(1.5, 4.0), 0.3 * total_ms)
    ratio = rng.uniform(0.1, 0.3)
    t = np.arange(0.0, total_ms, FINE_DT_MS)
    pos = (1.0 - np.exp(-t / tau_r)) * np.cos(0.5 * np.pi * np.clip(t / t_pos, 0.0, 1.0)) ** 2
    pos /= pos.max()
    u = np.clip((t - t_pos) / (total_ms - t_pos), 0.0, 1.0)
    neg = 6.75 * u * (1.0 - u) ** 2  # peak 1 at u = 1/3, slow return to 0 at u = 1
    x = pos - ratio * neg
    t_out = np.arange(int(total_ms * fs_hz / 1000.0)) * 1000.0 / fs_hz
    out = np.interp(t_out, t, x)
    return out * (p2p_uv / peak_to_peak(out))


def mepp(rng: np.random.Generator, fs_hz: float, amplitude_uv: float) -> np.ndarray:
    """A miniature end-plate potential recorded extracellularly (µV at ``fs_hz``): monophasic
    negative, rise time constant 0.2–0.5 ms, decay 1–3 ms (our choice; the reference describes
    end-plate noise only as non-propagated MEPPs), peak ``-amplitude_uv``."""
    tau_r = rng.uniform(0.2, 0.5)
    tau_d = rng.uniform(1.0, 3.0)
    t = np.arange(int(6 * tau_d * fs_hz / 1000.0)) * 1000.0 / fs_hz
    x = (1.0 - np.exp(-t / tau_r)) * np.exp(-t / tau_d)
    return -amplitude_uv * x / x.max()
