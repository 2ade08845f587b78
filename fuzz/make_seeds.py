"""Writes the fuzzers' seed corpus (fuzz/seeds/<target>/) from the shipped files: the model configurations stored
in assets/models/*.safetensors, two tiny model files of the same format (the shipped ones are megabytes, far past
a useful -max_len), the training configurations of configs/, and small maps and texts."""
import json, math, pathlib, struct

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "fuzz" / "seeds"

def header(path):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n])

for model in sorted((root / "assets" / "models").glob("*.safetensors")):
    config = header(model)["__metadata__"]["config"]
    (seeds / "model_config" / f"{model.stem}.json").write_text(config)

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

def tiny_model(kind, outputs, inputs, legend):
    d, tokens = 8, 4
    shapes = [("input_adapter.inp_embedding.weight", [d, inputs]), ("input_adapter.inp_embedding.bias", [d]),
              ("input_adapter.t_embedding.weight", [d, 1]), ("input_adapter.t_embedding.bias", [d]),
              ("input_adapter.pos_embedding", [tokens, d])]
    for name, shape in [("ln_1", [d]), ("attn.c_attn", [3 * d, d]), ("attn.c_proj", [d, d]), ("ln_2", [d]),
                        ("mlp.c_fc", [4 * d, d]), ("mlp.c_proj", [d, 4 * d])]:
        shapes += [(f"transformer.h.0.{name}.weight", shape), (f"transformer.h.0.{name}.bias", [shape[0]])]
    shapes += [("transformer.ln_f.weight", [d]), ("transformer.ln_f.bias", [d]),
               ("lm_head.weight", [outputs, 2 * d]), ("lm_head.bias", [outputs])]
    positions = [f32(math.sin(p / 1000 ** (j / d)) if j % 2 == 0 else math.cos(p / 1000 ** (j / d)))
                 for p in range(tokens) for j in range(d)]
    config = {"kind": kind, "layout": {"height": 1, "width": tokens, "channels": 1}, "patch": 1,
              "network": {"layers": 1, "heads": 1, "width": d, "positions": "sequence"}, "legend": legend}
    head = {"__metadata__": {"format": "bevy_bfn", "format_version": "1", "config": json.dumps(config)}}
    body, offset = b"", 0
    for name, shape in sorted(shapes):
        count = math.prod(shape)
        values = positions if name == "input_adapter.pos_embedding" else [0.0] * count
        body += struct.pack(f"<{count}f", *values)
        head[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * count]}
        offset += 4 * count
    text = json.dumps(head).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body

(seeds / "weights" / "continuous.safetensors").write_bytes(
    tiny_model({"type": "continuous", "sigma_1": 0.02}, 1, 1, []))
(seeds / "weights" / "discrete.safetensors").write_bytes(
    tiny_model({"type": "discrete", "beta_1": 3.0, "classes": 3}, 3, 3, [" ", "a", "b"]))

for config in sorted((root / "configs").glob("*.toml")):
    (seeds / "train_config" / config.name).write_bytes(config.read_bytes())

# ASCII maps: two size bytes, then maps separated by NUL, in the legend " ", ".", "#+", "~w".
(seeds / "ascii_maps" / "rooms").write_bytes(bytes([8, 10]) + b"#####\n#...#\n#.~.+\n#####\n\0 ##\n#..#\n ##\n")
(seeds / "ascii_maps" / "ragged").write_bytes(bytes([4, 4]) + b"#\n..\n\n~w~\0\0#+#+\n")

# Text lines: one length byte, then the text.
(seeds / "text_lines" / "names").write_bytes(bytes([11]) + b"anna\nbob\nclara\n\ndoris\neve\nfrank\n")
(seeds / "text_lines" / "unicode").write_bytes(bytes([5]) + "köln\nπ r²\n日本\nlonger than five\n".encode())
