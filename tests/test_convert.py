"""Converters of the original weights releases (camlib.models.convert), on files made here in their formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from camlib.data.__main__ import main
from camlib.models import convert
from camlib.models.places import _expected


def _encode(layers, bits=8):
    """Deep Compression's format, written the way its decode.py reads it: the test's independent encoder.

    ``layers``: ``[(codebook, codes (flat uint8), bias)]``. A stored weight is every non-zero code; a gap
    longer than 15 (4 bits) gets a filler entry of code 0, as the format requires.
    """
    counts, body = [], b""
    for codebook, codes, bias in layers:
        entries, last = [], -1
        for position in np.flatnonzero(codes).tolist():
            while position - last - 1 > 15:
                last += 16
                entries.append((0, 15))
            entries.append((int(codes[position]), position - last - 1))
            last = position
        counts.append(len(entries))
        stored = np.array([e[0] for e in entries], np.uint8)
        gaps = np.array([e[1] for e in entries], np.uint8)
        if bits == 4:
            stored = np.append(stored, np.zeros(len(stored) % 2, np.uint8))
            stored = stored[0::2] + 16 * stored[1::2]
        gaps = np.append(gaps, np.zeros(len(gaps) % 2, np.uint8))
        body += codebook.astype(np.float32).tobytes() + bias.astype(np.float32).tobytes()
        body += stored.astype(np.uint8).tobytes() + (gaps[0::2] + 16 * gaps[1::2]).astype(np.uint8).tobytes()
    return np.array(counts, np.uint32).tobytes() + body


def _layer(shape, bits, generator, density=0.3):
    codebook = np.concatenate([[0.0], generator.normal(size=2**bits - 1)]).astype(np.float32)
    codes = np.where(
        generator.random(int(np.prod(shape))) < density, generator.integers(1, 2**bits, int(np.prod(shape))), 0
    )
    return codebook, codes.astype(np.uint8), generator.normal(size=shape[0]).astype(np.float32)


@pytest.mark.parametrize("bits", [8, 4])
def test_deep_compression_decodes_what_its_format_encodes(bits):
    rng = np.random.default_rng(0)
    shapes = [(4, 3, 3, 3), (5, 4, 1, 1)]
    layers = [_layer(s, bits, rng, density) for s, density in zip(shapes, (0.3, 0.02))]  # sparse: long gaps, fillers
    decoded = convert.decode_deep_compression(_encode(layers, bits), [("a", shapes[0], 4), ("b", shapes[1], 5)], bits)
    for (name, shape), (codebook, codes, bias) in zip(zip("ab", shapes), layers):
        weight, got_bias = decoded[name]
        np.testing.assert_array_equal(weight, codebook[codes].reshape(shape))  # exactly the shared values
        np.testing.assert_array_equal(got_bias, bias)


def test_deep_compression_refuses_a_truncated_or_overlong_file():
    rng = np.random.default_rng(1)
    data = _encode([_layer((2, 2, 1, 1), 8, rng, density=1.0)])  # 4 stored weights: 4 codes, 2 bytes of gaps
    with pytest.raises(ValueError, match=r"`data` must hold a's gaps \(2 bytes\), but it ends after 1"):
        convert.decode_deep_compression(data[:-1], [("a", (2, 2, 1, 1), 2)])
    with pytest.raises(ValueError, match=r"`data` must end after the last layer"):
        convert.decode_deep_compression(data + b"\0", [("a", (2, 2, 1, 1), 2)])
    with pytest.raises(ValueError, match=r"`bits` must be 4 or 8, but got 5"):
        convert.decode_deep_compression(data, [("a", (2, 2, 1, 1), 2)], bits=5)


def test_squeezenet_from_a_whole_deep_compression_file(tmp_path):
    from torchvision.models import squeezenet1_0

    net = squeezenet1_0()
    convs = [(n, m) for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    rng = np.random.default_rng(2)
    layers = [_layer(tuple(m.weight.shape), 8, rng, 0.05) for _, m in convs]
    path = tmp_path / "compressed_SqueezeNet.net"
    path.write_bytes(_encode(layers))
    state = convert.squeezenet_from_deep_compression(path)
    net.load_state_dict(state, strict=True)  # every key of torchvision's squeezenet1_0, every shape
    codebook, codes, bias = layers[-1]
    assert torch.equal(state["classifier.1.weight"], torch.from_numpy(codebook[codes].reshape(1000, 512, 1, 1)))
    assert torch.equal(state["features.0.bias"], torch.from_numpy(layers[0][2]))
    assert main(["convert", "squeezenet-weights", "--from", str(path), "--to", str(tmp_path / "root")]) == 0
    saved = torch.load(tmp_path / "root" / "weights" / "squeezenet1_0-deepcompression-caffe.pth", weights_only=True)
    assert all(torch.equal(saved[k], state[k]) for k in state)
    with pytest.raises(FileNotFoundError, match=r"`path` must be compressed_SqueezeNet.net"):
        convert.squeezenet_from_deep_compression(tmp_path / "absent.net")


def test_places_from_a_lasagne_pickle_names_and_flips(tmp_path):
    shapes = _expected()
    assert list(shapes) == sorted(shapes, key=convert.PLACES_NAMES.index) and set(shapes) == set(convert.PLACES_NAMES)
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=shapes[n]).astype(np.float32) for n in convert.PLACES_NAMES]
    path = tmp_path / "squeezenet_weights_places365.params"
    path.write_bytes(pickle.dumps(arrays, protocol=3))
    out = convert.places_from_lasagne(path)
    assert list(out) == list(convert.PLACES_NAMES)
    w = arrays[0]  # conv1.weight, 3 x 3: Lasagne convolves, torch correlates: the kernel turned by 180 degrees
    np.testing.assert_array_equal(out["conv1.weight"][:, :, 0, 0], w[:, :, 2, 2])
    np.testing.assert_array_equal(out["conv1.bn_inv_std"], arrays[5])  # the rest as they are
    assert main(["convert", "places365-squeezenet", "--from", str(path), "--to", str(tmp_path / "root")]) == 0
    saved = np.load(tmp_path / "root" / "places365-squeezenet" / "squeezenet1_1-bn-places365.npz")
    assert all(np.array_equal(saved[k], out[k]) for k in out)


def test_places_refuses_a_pickle_that_names_anything_but_arrays(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this pickle runs code",))

    path = tmp_path / "bad.params"
    path.write_bytes(pickle.dumps([Payload()], protocol=3))
    with pytest.raises(pickle.UnpicklingError, match=r"NumPy arrays only, but names builtins.print"):
        convert.places_from_lasagne(path)
    path.write_bytes(pickle.dumps([np.zeros(2)], protocol=3))
    with pytest.raises(ValueError, match=r"must hold a list of 152 arrays, but holds 1"):
        convert.places_from_lasagne(path)
