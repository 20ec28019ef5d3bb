"""The label taxonomy shared by the simulator, the label readers, training and the runtime.

The order of :data:`LABELS` is the class index everywhere (per-sample label tracks, model
outputs, bundles).
"""

from __future__ import annotations

#: Pathological spontaneous activity (clinical-waveforms.md §2).
PATHOLOGICAL: tuple[str, ...] = (
    "fibrillation",
    "positive_sharp_wave",
    "fasciculation",
    "complex_repetitive_discharge",
    "myotonic_discharge",
    "myokymic_discharge",
    "neuromyotonic_discharge",
)

#: Activity that is not pathological.
NORMAL: tuple[str, ...] = (
    "rest",
    "insertional",
    "endplate_noise",
    "endplate_spike",
    "voluntary_muap",
)

#: Class index order: normal first (``rest`` is index 0, the background label).
LABELS: tuple[str, ...] = NORMAL + PATHOLOGICAL
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
REST = LABEL_INDEX["rest"]

#: Clinics' own names (case-insensitive) → taxonomy labels.
ALIASES: dict[str, str] = {
    "silence": "rest", "silent": "rest", "baseline": "rest", "none": "rest", "normal": "rest",
    "insertion": "insertional", "insertional activity": "insertional", "ia": "insertional",
    "epn": "endplate_noise", "endplate noise": "endplate_noise", "end-plate noise": "endplate_noise",
    "eps": "endplate_spike", "endplate spikes": "endplate_spike", "end-plate spike": "endplate_spike",
    "endplate spike": "endplate_spike",
    "muap": "voluntary_muap", "mup": "voluntary_muap", "muaps": "voluntary_muap", "voluntary": "voluntary_muap",
    "mu contraction": "voluntary_muap", "contraction": "voluntary_muap",
    "fib": "fibrillation", "fibs": "fibrillation", "fibrillations": "fibrillation",
    "fibrillation potential": "fibrillation",
    "psw": "positive_sharp_wave", "psws": "positive_sharp_wave", "positive sharp wave": "positive_sharp_wave",
    "positive sharp waves": "positive_sharp_wave",
    "fasc": "fasciculation", "fascs": "fasciculation", "fasciculations": "fasciculation", "fp": "fasciculation",
    "crd": "complex_repetitive_discharge", "crds": "complex_repetitive_discharge",
    "complex repetitive discharge": "complex_repetitive_discharge",
    "myotonia": "myotonic_discharge", "myotonic": "myotonic_discharge", "myotonic discharge": "myotonic_discharge",
    "myokymia": "myokymic_discharge", "myokymic": "myokymic_discharge", "myokymic discharge": "myokymic_discharge",
    "neuromyotonia": "neuromyotonic_discharge", "neuromyotonic": "neuromyotonic_discharge",
    "neuromyotonic discharge": "neuromyotonic_discharge",
}


def is_pathological(label: str) -> bool:
    return label in PATHOLOGICAL


def _alias_key(name: str) -> str:
    """Case, ``_``/``-`` and repeated spaces do not matter: ``End-plate_Spike`` → ``end plate spike``."""
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


_ALIAS_KEYS: dict[str, str] = {_alias_key(k): v for k, v in ALIASES.items()}
_ALIAS_KEYS.update({_alias_key(label): label for label in LABELS})


def canonical_label(name: str, extra_aliases: dict[str, str] | None = None) -> str:
    """Map a clinic's label to the taxonomy; raise ``ValueError`` naming the allowed labels.

    Matching ignores case, ``_``/``-`` and repeated spaces. ``extra_aliases`` (a clinic's own
    names → taxonomy labels or built-in aliases) take precedence over :data:`ALIASES`.
    """
    key = _alias_key(name)
    if extra_aliases:
        extra = {_alias_key(k): v for k, v in extra_aliases.items()}
        if key in extra:
            return canonical_label(extra[key])  # the target may itself be an alias
    if key in _ALIAS_KEYS:
        return _ALIAS_KEYS[key]
    raise ValueError(
        f"unknown label {name.strip()!r}: use one of {', '.join(LABELS)} or an alias "
        f"({', '.join(sorted(ALIASES)[:8])}, ...)"
    )
