#!/usr/bin/env python3
"""The benchmarks' generated vaults (deterministic for a given seed), shared by
bench/run_sync_bench.sh and bench/run_restore_bench.sh.

  gen_vault.py vault OUT NOTES ATTACHMENTS SEED
      N notes of 0.2-50 KB (log-uniform sizes), M attachments of 50 KB-8 MB (.png/.pdf/.mp3, random
      bytes), a folder tree up to 5 deep, NFC unicode names, fixed mtimes (2024-01-02T03:04:05Z,
      +61 s per file). Also writes the notes' paths, one a line, to OUT/../notes.list. Prints a
      one-line summary on stderr.
  gen_vault.py large OUT MB SEED
      one attachment OUT/Attachments/"large MB MB.png" of MB*10^6 seeded random bytes (streamed).
"""

import math
import os
import random
import sys
import unicodedata

# Names: ASCII, Latin accents, German, CJK, Cyrillic, Greek, Arabic, Hebrew, Korean, emoji. All NFC,
# no hidden names, no \ : * ? " < > |, no two siblings that differ only in case.
NAME_WORDS = ["Meeting", "Notes", "Café", "Résumé", "Straße", "日本語", "東京", "ノート", "Ωmega", "Naïve",
              "Façade", "Smörgåsbord", "Projekt", "Idées", "Überblick", "Zürich", "København", "Año",
              "🚀", "🎉", "Ideas", "Journal", "Draft", "Research", "Reading", "Привет", "Кириллица",
              "العربية", "עברית", "한국어", "中文", "Ελληνικά", "Plan", "Review", "Weekly", "Archive",
              "Daily", "Inbox", "Areas", "Resources", "Ünïcødé", "Crème brûlée"]
TEXT_WORDS = ("the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur adipiscing "
              "elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua sync vault note "
              "backup encrypt café naïve straße 東京 会議 привет мир γειά 🚀 ✅ résumé").split()
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-1.7\n", "mp3": b"ID3\x04\x00\x00"}


def gen_vault(out: str, n_notes: int, n_att: int, seed: int) -> None:
    for w in NAME_WORDS + TEXT_WORDS:
        assert unicodedata.normalize("NFC", w) == w, w
    rng = random.Random(seed)

    def loguniform(lo, hi):
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    # Folders: a tree of up to 5 levels below the root.
    folders = [""]
    depth = {"": 0}
    n_folders = max(1, min(120, n_notes // 20))
    for i in range(n_folders):
        parent = rng.choice([f for f in folders if depth[f] < 5])
        name = f"{rng.choice(NAME_WORDS)} {i:03d}"
        path = f"{parent}/{name}" if parent else name
        folders.append(path)
        depth[path] = depth[parent] + 1

    mtime = [1704164645]  # 2024-01-02T03:04:05Z, +61 s per file
    files = []

    def put(rel, data):
        p = os.path.join(out, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (mtime[0], mtime[0]))
        mtime[0] += 61
        files.append(rel)

    note_names = []
    for i in range(n_notes):
        folder = "" if rng.random() < 0.1 else rng.choice(folders)
        name = f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS).lower()} {i:04d}.md"
        note_names.append((folder, name))

    total = 0
    for i, (folder, name) in enumerate(note_names):
        size = loguniform(200, 50_000)
        parts = [f"# {name[:-3]}\n\ntags: #bench #n{i % 17}\n\n"]
        length = len(parts[0].encode())
        while length < size:
            r = rng.random()
            if r < 0.1:
                line = f"\n## {' '.join(rng.choices(TEXT_WORDS, k=3)).capitalize()}\n\n"
            elif r < 0.3:
                line = f"- [ ] {' '.join(rng.choices(TEXT_WORDS, k=rng.randint(3, 10)))}\n"
            elif r < 0.4:
                other = note_names[rng.randrange(len(note_names))][1][:-3]
                line = f"See [[{other}]] and {' '.join(rng.choices(TEXT_WORDS, k=5))}.\n"
            else:
                line = " ".join(rng.choices(TEXT_WORDS, k=rng.randint(8, 30))).capitalize() + ".\n"
            parts.append(line)
            length += len(line.encode())
        data = "".join(parts).encode()[:size].decode("utf-8", "ignore").encode()
        put(f"{folder}/{name}" if folder else name, data)
        total += len(data)

    for i in range(n_att):
        ext = rng.choice(["png", "pdf", "mp3"])
        size = loguniform(50_000, 8_000_000)
        folder = rng.choice(folders)
        name = f"{rng.choice(NAME_WORDS)} attachment {i:03d}.{ext}"
        data = MAGIC[ext] + rng.randbytes(size - len(MAGIC[ext]))
        put(f"{folder}/{name}" if folder else name, data)
        total += len(data)

    with open(os.path.join(os.path.dirname(out), "notes.list"), "w") as f:
        for folder, name in note_names:
            f.write((f"{folder}/{name}" if folder else name) + "\n")
    print(f"{len(files)} files, {total} bytes, {len(folders) - 1} folders, "
          f"max depth {max(depth.values())}", file=sys.stderr)


def gen_large(out: str, mb: int, seed: int) -> None:
    rng = random.Random(seed * 1000 + mb)
    os.makedirs(os.path.join(out, "Attachments"), exist_ok=True)
    p = os.path.join(out, "Attachments", f"large {mb} MB.png")
    left = mb * 1_000_000
    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        left -= 8
        while left:
            n = min(left, 4 << 20)
            f.write(rng.randbytes(n))
            left -= n
    os.utime(p, (1704164645, 1704164645))


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[0] == "vault":
        gen_vault(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
        return 0
    if len(argv) == 4 and argv[0] == "large":
        gen_large(argv[1], int(argv[2]), int(argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 4


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
