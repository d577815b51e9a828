"""The payload code: exact round trip, errors corrected, noise rejected."""

from __future__ import annotations

import numpy as np

from masque.provenance.payload import CODED_BITS, Payload, conv_encode, pack, parse_version, unpack, viterbi_decode


def test_pack_unpack_round_trip() -> None:
    p = Payload((0, 1, 0), 0xDEADBEEF)
    assert unpack(pack(p)) == p
    assert unpack(viterbi_decode(conv_encode(pack(p)))) == p
    assert len(conv_encode(pack(p))) == CODED_BITS


def test_viterbi_corrects_noisy_soft_bits() -> None:
    rng = np.random.default_rng(0)
    p = Payload((1, 2, 3), 123456789)
    coded = conv_encode(pack(p))
    # amplitude 1.5 against unit noise flips about 7 % of the coded bits
    for _ in range(50):
        noisy = 1.5 * coded + rng.standard_normal(coded.shape)
        assert unpack(viterbi_decode(noisy)) == p


def test_noise_never_decodes() -> None:
    rng = np.random.default_rng(1)
    assert all(unpack(viterbi_decode(rng.standard_normal(CODED_BITS))) is None for _ in range(500))


def test_single_flipped_message_bit_fails_crc() -> None:
    bits = pack(Payload((0, 1, 0), 42))
    for i in range(len(bits)):
        flipped = bits.copy()
        flipped[i] ^= 1
        assert unpack(flipped) is None


def test_parse_version() -> None:
    assert parse_version("0.1.0") == (0, 1, 0)
    assert parse_version("2.13.0rc1") == (2, 13, 0)
    assert parse_version("99.100") == (15, 63, 0)
