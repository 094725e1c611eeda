# SPDX-License-Identifier: MPL-2.0
"""Converts a CTranslate2 Whisper model to a whisper.cpp ggml file, quantised to q8_0.

Usage: python3 ct2_to_ggml.py OUT.bin[.part] MODEL_PART... VOCABULARY [--f16 F16_OUT.bin]

MODEL_PART: model.bin, or the pieces of one split across packages (model.bin.part1, ...), in
order. VOCABULARY: vocabulary.txt (one token a line) or vocabulary.json (a list of tokens).
The sizes (tiny, base, ...; English-only or multilingual) are read from the tensor shapes.

Writes the layout whisper.cpp's own converter writes for an OpenAI checkpoint (hparams, the
80-band Slaney mel bank, the 50256 byte-level BPE tokens, then the tensors in the PyTorch
state-dict order: f16 weights, f32 1-D tensors, conv biases and positional embeddings), then
quantises it the way whisper.cpp's `quantize ... q8_0` does: every 2-D tensor except the conv
biases and the positional embeddings becomes blocks of 32 int8 values with an f16 scale
(amax / 127, values rounded half away from zero); the header's ftype becomes 7 + 1000 x 2.
Needs numpy only (pinned in ct2_to_ggml.txt).
"""

import json
import re
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
FTYPE_F16, FTYPE_Q8_0, QNT_VERSION = 1, 7, 2
TYPE_F32, TYPE_F16, TYPE_Q8_0 = 0, 1, 8
QK8_0 = 32
NOT_QUANTISED = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
                 "decoder.positional_embedding"}


class Reader:
    """Little-endian reads over the bytes of a CTranslate2 model.bin."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        value = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return value[0] if len(value) == 1 else value

    def string(self):
        length = self.take("H")
        raw = self.data[self.at:self.at + length]
        self.at += length
        return raw.rstrip(b"\0").decode("utf-8")


def read_ct2(paths):
    """The variables of a CTranslate2 model.bin (format version 6), by name; `paths` are the
    pieces of the file in order."""
    data = b""
    for part in paths:
        with open(part, "rb") as file:
            data += file.read()
    path = paths[0]
    reader = Reader(data)
    version = reader.take("I")
    spec = reader.string()
    revision = reader.take("I")
    if version != 6 or spec != "WhisperSpec":
        sys.exit(f"{path}: CTranslate2 binary version {version}, spec {spec}: expected 6, WhisperSpec")
    variables = {}
    for _ in range(reader.take("I")):
        name = reader.string()
        rank = reader.take("B")
        shape = [reader.take("I") for _ in range(rank)]
        dtype = CT2_DTYPES[reader.take("B")]
        size = reader.take("I")
        raw = reader.data[reader.at:reader.at + size]
        reader.at += size
        variables[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
    print(f"read {len(variables)} variables of {spec} revision {revision}", file=sys.stderr)
    return variables


def count_layers(variables, side):
    layer = re.compile(rf"^{side}/layer_(\d+)/")
    return len({match.group(1) for match in map(layer.match, variables) if match})


def split_rows(matrix, parts):
    rows = matrix.shape[0] // parts
    return [matrix[i * rows:(i + 1) * rows] for i in range(parts)]


def zero_bias(bias, what):
    if np.any(bias != 0):
        sys.exit(f"{what}: the key bias is not zero; Whisper has none to drop")


def attention(variables, ct2, fused_qkv):
    """Query, key, value weights and biases of a self-attention (fused q;k;v) or a
    cross-attention (q, then fused k;v), and the name of its output projection."""
    if fused_qkv:
        weights = split_rows(variables[f"{ct2}/linear_0/weight"], 3)
        biases = split_rows(variables[f"{ct2}/linear_0/bias"], 3)
        output = "linear_1"
    else:
        weights = [variables[f"{ct2}/linear_0/weight"]] + split_rows(variables[f"{ct2}/linear_1/weight"], 2)
        biases = [variables[f"{ct2}/linear_0/bias"]] + split_rows(variables[f"{ct2}/linear_1/bias"], 2)
        output = "linear_2"
    zero_bias(biases[1], ct2)
    return weights, biases, output


def state_dict(variables):
    """The tensors under their OpenAI names, in the order of the PyTorch state dict."""
    tensors = []
    add = tensors.append

    def norm(ct2, name):
        add((f"{name}.weight", variables[f"{ct2}/gamma"]))
        add((f"{name}.bias", variables[f"{ct2}/beta"]))

    def block(side, index, cross):
        ct2, name = f"{side}/layer_{index}", f"{side}.blocks.{index}"
        attentions = [("self_attention", "attn", True)] + ([("attention", "cross_attn", False)] if cross else [])
        for ct2_attn, attn, fused in attentions:
            weights, biases, output = attention(variables, f"{ct2}/{ct2_attn}", fused)
            add((f"{name}.{attn}.query.weight", weights[0]))
            add((f"{name}.{attn}.query.bias", biases[0]))
            add((f"{name}.{attn}.key.weight", weights[1]))
            add((f"{name}.{attn}.value.weight", weights[2]))
            add((f"{name}.{attn}.value.bias", biases[2]))
            add((f"{name}.{attn}.out.weight", variables[f"{ct2}/{ct2_attn}/{output}/weight"]))
            add((f"{name}.{attn}.out.bias", variables[f"{ct2}/{ct2_attn}/{output}/bias"]))
            norm(f"{ct2}/{ct2_attn}/layer_norm", f"{name}.{attn}_ln")
        add((f"{name}.mlp.0.weight", variables[f"{ct2}/ffn/linear_0/weight"]))
        add((f"{name}.mlp.0.bias", variables[f"{ct2}/ffn/linear_0/bias"]))
        add((f"{name}.mlp.2.weight", variables[f"{ct2}/ffn/linear_1/weight"]))
        add((f"{name}.mlp.2.bias", variables[f"{ct2}/ffn/linear_1/bias"]))
        norm(f"{ct2}/ffn/layer_norm", f"{name}.mlp_ln")

    add(("encoder.positional_embedding", variables["encoder/position_encodings/encodings"]))
    for conv in ("conv1", "conv2"):
        add((f"encoder.{conv}.weight", variables[f"encoder/{conv}/weight"]))
        add((f"encoder.{conv}.bias", variables[f"encoder/{conv}/bias"]))
    for index in range(count_layers(variables, "encoder")):
        block("encoder", index, cross=False)
    norm("encoder/layer_norm", "encoder.ln_post")
    add(("decoder.positional_embedding", variables["decoder/position_encodings/encodings"]))
    add(("decoder.token_embedding.weight", variables["decoder/embeddings/weight"]))
    for index in range(count_layers(variables, "decoder")):
        block("decoder", index, cross=True)
    norm("decoder/layer_norm", "decoder.ln")
    return tensors


def slaney_mel(sample_rate=16000, n_fft=400, n_mels=80):
    """The Slaney-normalised mel filter bank OpenAI Whisper ships (float32, [n_mels, n_fft/2+1])."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, log_step = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(hz):
        return min_log_mel + np.log(hz / min_log_hz) / log_step if hz >= min_log_hz else hz / f_sp

    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2)
    edges = f_sp * mels
    log_part = mels >= min_log_mel
    edges[log_part] = min_log_hz * np.exp(log_step * (mels[log_part] - min_log_mel))
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    bank = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        bank[i] = np.maximum(0, np.minimum(rising, falling))
    bank *= (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[:, np.newaxis]
    return bank


def byte_decoder():
    """GPT-2's byte-level BPE alphabet, unicode character -> byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


def read_tokens(path, count):
    """The first `count` tokens of the vocabulary (ids below <|endoftext|>) as raw bytes."""
    decode = byte_decoder()
    with open(path, encoding="utf-8") as file:
        text = file.read()
    lines = json.loads(text) if path.endswith(".json") else text.split("\n")
    if len(lines) < count:
        sys.exit(f"{path}: {len(lines)} tokens, expected at least {count}")
    return [bytes(decode[ch] for ch in token) for token in lines[:count]]


def ggml_tensor(name, data, quantise):
    """One tensor record: header, reversed dims, name, data (f32, f16 or q8_0 blocks)."""
    if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
        data = data.reshape(data.shape[0], 1)
    dims = data.ndim
    keep_f32 = dims < 2 or name in NOT_QUANTISED
    if keep_f32:
        kind, payload = TYPE_F32, data.astype(np.float32)
    elif quantise and dims == 2:
        kind, payload = TYPE_Q8_0, q8_0(data.astype(np.float16).astype(np.float32))
    else:
        kind, payload = TYPE_F16, data.astype(np.float16)
    encoded = name.encode("utf-8")
    header = struct.pack("<iii", dims, len(encoded), kind)
    header += b"".join(struct.pack("<i", data.shape[dims - 1 - i]) for i in range(dims))
    return header + encoded + payload.tobytes()


def q8_0(values):
    """ggml's reference q8_0: per 32 values an f16 scale amax/127, then round(x / scale) as int8."""
    blocks = values.reshape(-1, QK8_0).astype(np.float32)
    amax = np.max(np.abs(blocks), axis=1)
    scale = (amax / np.float32(127)).astype(np.float32)
    inverse = np.zeros_like(scale)
    nonzero = scale != 0
    inverse[nonzero] = np.float32(1) / scale[nonzero]
    scaled = (blocks * inverse[:, np.newaxis]).astype(np.float32)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    out["d"] = scale.astype(np.float16)
    out["qs"] = rounded.astype(np.int8)
    return out


def hparams(variables):
    """whisper.cpp's hparams, from the tensor shapes. Whisper uses 64-wide attention heads."""
    n_vocab, n_text_state = variables["decoder/embeddings/weight"].shape
    n_audio_ctx, n_audio_state = variables["encoder/position_encodings/encodings"].shape
    n_text_ctx = variables["decoder/position_encodings/encodings"].shape[0]
    if n_vocab not in (51864, 51865) or n_audio_ctx != 1500 or n_text_ctx != 448:
        sys.exit(f"vocabulary {n_vocab}, audio context {n_audio_ctx}, text context {n_text_ctx}: "
                 "not a Whisper v1/v2 model (51864 or 51865 tokens, 1500, 448)")
    if n_audio_state % 64 or n_text_state % 64:
        sys.exit(f"state widths {n_audio_state}/{n_text_state} are not multiples of the 64-wide heads")
    return [n_vocab, n_audio_ctx, n_audio_state, n_audio_state // 64, count_layers(variables, "encoder"),
            n_text_ctx, n_text_state, n_text_state // 64, count_layers(variables, "decoder")]


def write_ggml(path, tensors, mel, tokens, quantise, sizes):
    ftype = FTYPE_Q8_0 + 1000 * QNT_VERSION if quantise else FTYPE_F16
    with open(path, "wb") as out:
        out.write(struct.pack("<I", GGML_MAGIC))
        out.write(struct.pack("<11i", *sizes, mel.shape[0], ftype))
        out.write(struct.pack("<ii", *mel.shape))
        out.write(mel.astype(np.float32).tobytes())
        out.write(struct.pack("<i", len(tokens)))
        for token in tokens:
            out.write(struct.pack("<i", len(token)) + token)
        for name, data in tensors:
            out.write(ggml_tensor(name, data, quantise))


def main():
    args = sys.argv[1:]
    f16_out = None
    if "--f16" in args:
        at = args.index("--f16")
        f16_out = args[at + 1]
        del args[at:at + 2]
    if len(args) < 3:
        sys.exit(__doc__)
    out, model_parts, vocabulary = args[0], args[1:-1], args[-1]
    variables = read_ct2(model_parts)
    sizes = hparams(variables)
    tensors = state_dict(variables)
    mel = slaney_mel()
    # The byte-level BPE tokens come before <|endoftext|>: 50256 of them English-only, 50257
    # multilingual; whisper.cpp adds the special and timestamp tokens itself.
    tokens = read_tokens(vocabulary, sizes[0] - 1608)
    if f16_out:
        write_ggml(f16_out, tensors, mel, tokens, quantise=False, sizes=sizes)
    write_ggml(out, tensors, mel, tokens, quantise=True, sizes=sizes)


if __name__ == "__main__":
    main()
