#!/usr/bin/env python3
"""Writes variants_golden.json: what Google's sentencepiece makes of random inputs with
the variant models that variants_test.go builds.

    go test ./sentencepiece -run TestVariants -write-variants /tmp/variants
    python3 sentencepiece/testdata/gen_variants.py /tmp/variants > sentencepiece/testdata/variants_golden.json

Generated with Debian's python3-sentencepiece 0.1.97; its BPE encoder, normalizer and
decoder are the same code as 0.2.x (the reference goldens, made with 0.2.2, agree with it).
"""
import json
import os
import random
import sys

import sentencepiece as spm

ORDER = ["tok-a", "tok-b", "a-remove-extra-ws", "b-remove-extra-ws", "a-no-byte-fallback",
         "a-unused", "a-ties", "a-flat", "a-ws-inside", "a-no-escape", "a-suffix", "b-user-ws"]

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "tokenizers",
                      "tok-a", "tokenizer_golden.json")

WORDS = []
for c in json.load(open(GOLDEN))["encode"]:
    WORDS += c["text"].split()

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " " * 8 + "\t\n\r",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "\u2581\ufffd\u00a0\u200d\ufeff\u0301",
    "äöüßéèçñÇàâêîôûœ€",
    "абвгдежзийклмнопрстуфхцчшщъыьэюяПривет",
    "猫はソファで寝ています你好世界今天天气很好안녕하세요",
    "😀🚀🇺🇳👩👧𐒕𝄞",
    "\x00\x01\x7f",
]
SPECIALS = ["<extra_id_0>", "<extra_id_1>", "<extra_id_", "<s>", "</s>", "<unk>", "<pad>",
            "<0x41>", "▁the", "the", " the", "▁▁"]
BROKEN = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xe6\x97", b"\xf0\x9f\x98",
          b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
          b"\xe0\x80\x80", b"\xef\xbf\xbd"]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(WORDS))
        elif r < 0.6:
            parts.append(" " * rng.choice([0, 1, 1, 1, 2, 3, 5]))
        elif r < 0.85:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        else:
            parts.append(rng.choice(SPECIALS))
    return "".join(parts)


def random_bytes(rng):
    out = b""
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.5:
            out += random_text(rng).encode()
        else:
            out += rng.choice(BROKEN)
    return out


def random_ids(rng, sp):
    n = sp.get_piece_size()
    ids = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.4:
            ids.append(rng.randrange(6, 262))  # byte pieces in both models
        elif r < 0.5:
            ids.append(rng.randrange(0, 6))  # pad unk bos eos and the user symbols
        elif r < 0.6:
            ids.append(sp.piece_to_id(rng.choice(["▁", "▁▁", "▁a", "▁the", "a"])))
        else:
            ids.append(rng.randrange(0, n))
    return ids


def main():
    d = sys.argv[1]
    out = {"variants": []}
    for name in ORDER:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, name + ".model"))
        rng = random.Random(name)
        enc = []
        texts = [c["text"] for c in json.load(open(GOLDEN))["encode"]]
        texts += [random_text(rng) for _ in range(120)]
        for t in texts:
            ids = sp.encode(t)
            pieces = sp.encode(t.encode(), out_type=str)
            enc.append({"text": t, "ids": ids, "pieces": [p.decode() for p in pieces]})
        for _ in range(40):
            b = random_bytes(rng)
            ids = sp.encode(b)
            pieces = sp.encode(b, out_type=str)
            enc.append({"bytes_hex": b.hex(), "ids": ids, "pieces": [p.decode() for p in pieces]})
        dec = []
        for _ in range(80):
            ids = random_ids(rng, sp)
            dec.append({"ids": ids, "text": sp.decode(ids)})
        out["variants"].append({"name": name, "encode": enc, "decode": dec})
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
