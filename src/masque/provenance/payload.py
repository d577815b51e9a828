"""The watermark payload: what it says, and the error-correcting code that carries it.

72 message bits: an 8-bit magic, the masque version (4 + 6 + 6 bits), a 32-bit run id and a
CRC-16 over all of it. They are sent through the K=7, rate-1/2 convolutional code of NASA and
802.11 (generators 171, 133 octal), terminated with 6 zero bits, and decoded with a soft-decision
Viterbi decoder, which corrects far more errors than hard decisions at the same signal level.
The 24 check bits (magic + CRC) make a random read pass for about 1 in 16 million tries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAGIC = 0xA7
MESSAGE_BITS = 72
_K = 7
_STATES = 1 << (_K - 1)
_GENERATORS = (0o171, 0o133)
CODED_BITS = 2 * (MESSAGE_BITS + _K - 1)


@dataclass(frozen=True)
class Payload:
    """What every watermark carries: the masque version that wrote it and the run's random id."""

    version: tuple[int, int, int]
    run_id: int

    @property
    def version_str(self) -> str:
        """``"0.1.0"``."""
        return ".".join(str(v) for v in self.version)

    @property
    def run_id_hex(self) -> str:
        """The run id as 8 hex digits."""
        return f"{self.run_id:08x}"


def parse_version(text: str) -> tuple[int, int, int]:
    """``"0.1.0"`` -> ``(0, 1, 0)``, each part clamped to what the payload can hold."""
    parts = [int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in text.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return min(parts[0], 15), min(parts[1], 63), min(parts[2], 63)


def _crc16(bits: np.ndarray) -> int:
    """CRC-16/CCITT over a bit array, most significant bit first."""
    crc = 0xFFFF
    for b in bits:
        top = (crc >> 15) & 1
        crc = (crc << 1) & 0xFFFF
        if top ^ int(b):
            crc ^= 0x1021
    return crc


def _to_bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def _from_bits(bits: np.ndarray) -> int:
    return int("".join(str(int(b)) for b in bits), 2) if len(bits) else 0


def pack(payload: Payload) -> np.ndarray:
    """The 72 message bits (``uint8`` 0/1) of ``payload``, CRC included."""
    major, minor, patch = payload.version
    head = _to_bits(MAGIC, 8) + _to_bits(major, 4) + _to_bits(minor, 6) + _to_bits(patch, 6)
    body = np.array(head + _to_bits(payload.run_id & 0xFFFFFFFF, 32), dtype=np.uint8)
    return np.concatenate([body, np.array(_to_bits(_crc16(body), 16), dtype=np.uint8)])


def unpack(bits: np.ndarray) -> Payload | None:
    """Inverse of :func:`pack`; ``None`` when the magic or the CRC does not match."""
    body, crc = bits[:56], bits[56:72]
    if _from_bits(body[:8]) != MAGIC or _from_bits(crc) != _crc16(body):
        return None
    version = (_from_bits(body[8:12]), _from_bits(body[12:18]), _from_bits(body[18:24]))
    return Payload(version=version, run_id=_from_bits(body[24:56]))


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """For each next state and predecessor choice: the predecessor state and the two outputs (+-1)."""
    ns = np.arange(_STATES)
    prev = np.stack([ns >> 1, (ns >> 1) | (1 << (_K - 2))], axis=1)  # (64, 2)
    reg = (prev << 1) | (ns[:, None] & 1)  # the 7 bits seen when moving prev -> ns
    outs = np.stack([1 - 2 * _parity(reg & g) for g in _GENERATORS], axis=-1)  # (64, 2, 2)
    return prev, outs.astype(np.float32)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/2 convolutional code of ``bits`` (0/1) plus a 6-bit zero tail, as +-1 ``float32``."""
    state, out = 0, []
    for b in list(bits.astype(int)) + [0] * (_K - 1):
        reg = (state << 1) | b
        out += [1 - 2 * (bin(reg & g).count("1") & 1) for g in _GENERATORS]
        state = reg & (_STATES - 1)
    return np.array(out, dtype=np.float32)


def viterbi_decode(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding.

    Args:
        soft: ``(CODED_BITS,)`` float, positive for a coded +1 (bit 0), scaled by reliability.

    Returns:
        The ``MESSAGE_BITS`` most likely message bits (``uint8`` 0/1).
    """
    prev, outs = _trellis()
    steps = len(soft) // 2
    metric = np.full(_STATES, -np.inf, dtype=np.float64)
    metric[0] = 0.0
    choice = np.zeros((steps, _STATES), dtype=np.int8)
    pairs = soft[: 2 * steps].reshape(steps, 2).astype(np.float64)
    for t in range(steps):
        cand = metric[prev] + outs @ pairs[t]  # (64, 2): correlation of each branch with the input
        choice[t] = np.argmax(cand, axis=1)
        metric = cand[np.arange(_STATES), choice[t]]
    state, bits = 0, np.zeros(steps, dtype=np.uint8)  # the tail drives the encoder back to 0
    for t in range(steps - 1, -1, -1):
        bits[t] = state & 1
        state = prev[state, choice[t, state]]
    return bits[:MESSAGE_BITS]
