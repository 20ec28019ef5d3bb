"""firmware_bridge.host.physio: EDF and WFDB channels read in blocks with the header's scale, as sources."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from clikit import UserError
from firmware_bridge.host import physio
from firmware_bridge.host.physio import EdfChannel, RecordError, RecordSource, WfdbChannel, uv_to_int16
from firmware_bridge.host.source import SampleSource

RATE = 8000
N = 24_000  # whole seconds: EDF pads to its 1 s data records


def _signals() -> np.ndarray:
    t = np.arange(N) / RATE
    return np.stack([800 * np.sin(2 * np.pi * 150 * t), 300 * np.cos(2 * np.pi * 40 * t) + 20], axis=1)  # µV


def write_edf(path, sig_uv: np.ndarray) -> None:
    highlevel = pytest.importorskip("pyedflib.highlevel")
    hdr = highlevel.make_signal_header("EMG", dimension="uV", sample_frequency=RATE, physical_min=-2000,
                                       physical_max=2000, digital_min=-32768, digital_max=32767)
    data = np.stack([sig_uv[:, 0], sig_uv[:, 1] / 1000])  # the second signal in mV
    highlevel.write_edf(str(path), data, [dict(hdr, label="EMG"), dict(hdr, label="REF", dimension="mV",
                                                                                   physical_min=-2, physical_max=2)])


def write_wfdb(folder, sig_uv: np.ndarray) -> None:
    wfdb = pytest.importorskip("wfdb")
    wfdb.wrsamp("emg", fs=RATE, units=["uV", "mV"], sig_name=["needle", "ref"],
                p_signal=np.stack([sig_uv[:, 0], sig_uv[:, 1] / 1000], axis=1), fmt=["16", "16"],
                adc_gain=[20.0, 16000.0], baseline=[10, -5], write_dir=str(folder))


def drain(src) -> tuple[list, np.ndarray]:
    blocks = []
    with pytest.raises(EOFError):
        while True:
            blk = src.read_block()
            if blk is not None:
                blocks.append(blk)
    return blocks, np.concatenate([b.samples for b in blocks])


@pytest.mark.parametrize("kind", ["edf", "wfdb"])
@pytest.mark.parametrize("channel", [0, 1])
def test_channel_streams_in_blocks_within_lsbs_of_the_physical_signal(tmp_path, monkeypatch, kind, channel):
    sig = _signals()
    if kind == "edf":
        write_edf(tmp_path / "x.edf", sig)
        reader = EdfChannel(tmp_path / "x.edf", channel)
        step = 4000 / 65535  # ±2000 µV and ±2 mV over 65535 steps
    else:
        write_wfdb(tmp_path, sig)
        reader = WfdbChannel(tmp_path / "emg.hea", channel)
        step = 1 / 20 if channel == 0 else 1000 / 16000
    monkeypatch.setattr(physio, "READ_AHEAD", 1500)  # block boundaries inside and across read-aheads
    src = RecordSource(reader, speed=None, block=441)
    assert isinstance(src, SampleSource) and reader.channels == 2
    assert src.sample_rate == RATE and src.n_samples == N
    assert src.uv_per_lsb == pytest.approx(step) and src.uv_per_lsb_source == f"{kind}-header"
    blocks, pcm = drain(src)
    src.close()
    assert [b.first_index for b in blocks] == list(range(0, N, 441)) and all(b.gap_before == 0 for b in blocks)
    # WFDB: one rounding (the writer's; the baseline is whole steps). EDF: the writer's, then ours
    # (its physical zero sits half a step off a digital one).
    lsbs = 2 if kind == "edf" else 1
    assert np.max(np.abs(pcm * src.uv_per_lsb - sig[:, channel])) <= lsbs * src.uv_per_lsb


def test_caller_scale_re_expresses_the_physical_signal(tmp_path):
    sig = _signals()
    write_edf(tmp_path / "x.edf", sig)
    src = RecordSource(EdfChannel(tmp_path / "x.edf", "REF"), speed=None, block=5000, uv_per_lsb=1.0)
    assert src.uv_per_lsb == 1.0 and src.uv_per_lsb_source == "parameter"
    _, pcm = drain(src)
    assert np.max(np.abs(pcm - sig[:, 1])) <= 0.6


def test_channel_by_name_and_out_of_range(tmp_path):
    write_wfdb(tmp_path, _signals())
    assert WfdbChannel(tmp_path / "emg", "ref").name == "ref"
    with pytest.raises(RecordError, match=r"emg.hea: channel 2 requested; the file has 2 channel\(s\)"):
        WfdbChannel(tmp_path / "emg.hea", 2)
    write_edf(tmp_path / "x.edf", _signals())
    with pytest.raises(RecordError, match="x.edf: no channel named 'ecg'; channels: EMG, REF"):
        EdfChannel(tmp_path / "x.edf", "ecg")


def test_truncated_files_are_refused_at_open(tmp_path):
    write_wfdb(tmp_path, _signals())
    dat = (tmp_path / "emg.dat").read_bytes()
    (tmp_path / "emg.dat").write_bytes(dat[: len(dat) // 2])
    with pytest.raises(RecordError, match="emg.hea: cannot read WFDB record, truncated"):
        WfdbChannel(tmp_path / "emg.hea")
    write_edf(tmp_path / "x.edf", _signals())
    (tmp_path / "cut.edf").write_bytes((tmp_path / "x.edf").read_bytes()[:-5000])
    with pytest.raises(RecordError, match="cut.edf: cannot read EDF .*truncated"):
        EdfChannel(tmp_path / "cut.edf")


def test_rate_outside_the_host_range_is_refused(tmp_path):
    highlevel = pytest.importorskip("pyedflib.highlevel")
    hdr = highlevel.make_signal_header("EEG", dimension="uV", sample_frequency=256, physical_min=-200,
                                       physical_max=200, digital_min=-32768, digital_max=32767)
    highlevel.write_edf(str(tmp_path / "eeg.edf"), np.zeros((1, 2560)), [hdr])
    with pytest.raises(RecordError, match=r"eeg.edf: sample rate 256 Hz is outside 1000..384000 Hz"):
        RecordSource(EdfChannel(tmp_path / "eeg.edf"))


@pytest.mark.parametrize("module,cls", [("pyedflib", EdfChannel), ("wfdb", WfdbChannel)])
def test_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch, module, cls):
    monkeypatch.setitem(sys.modules, module, None)  # import then raises ImportError
    with pytest.raises(UserError) as exc:
        cls(tmp_path / "x.edf")
    assert str(exc.value) == (f"reading {'EDF/BDF' if module == 'pyedflib' else 'WFDB'} needs the {module} package; "
                              "install the 'io' extra: pip install 'emg-edge-kit[io]'")


def test_uv_to_int16_rounds_half_to_even_and_counts_saturation():
    pcm, clipped = uv_to_int16(np.array([0.25, 0.75, -0.25, 1e9, -1e9]), 0.5)
    assert pcm.tolist() == [0, 2, 0, 32767, -32768] and clipped == 2


def test_wfdb_header_without_a_length_reads_what_the_signal_file_holds(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    wfdb.wrsamp("r", fs=RATE, units=["uV"], sig_name=["a"], d_signal=np.arange(-50, 50)[:, None].astype(np.int64),
                fmt=["16"], adc_gain=[2.0], baseline=[0], write_dir=str(tmp_path))
    lines = (tmp_path / "r.hea").read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:3])  # "r 1 8000": no sample count (it is optional)
    (tmp_path / "r.hea").write_text("\n".join(lines) + "\n")
    _, pcm = drain(RecordSource(WfdbChannel(tmp_path / "r.hea"), speed=None, block=30))
    assert pcm.tolist() == list(range(-50, 50))
