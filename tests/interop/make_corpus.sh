#!/usr/bin/env bash
# Writes a deterministic test vault into DIR (which must be missing or empty):
#
#   tests/interop/make_corpus.sh DIR
#
# Same bytes, names and file mtimes on every run and machine (needs only coreutils and openssl).
# It contains only what the official client syncs once `sync-config` enables every attachment
# type (image,audio,video,pdf,unsupported) and every config category (protocol doc §6.3):
# no hidden names outside .obsidian, no hidden segments or node_modules inside it, no
# workspace.json, no names with `\` or `:`. All names are NFC (the client normalises paths to
# NFC, so an NFD name would come back under a different byte sequence).
set -euo pipefail
export LC_ALL=C # ${#s} counts bytes (PDF offsets); names are written as raw UTF-8 bytes
shopt -s lastpipe # `producer | put NAME` must record NAME in this shell

[[ $# -eq 1 ]] || {
    echo "usage: $0 DIR" >&2
    exit 2
}
out=$1
if [[ -e "$out" ]] && [[ -n "$(ls -A "$out")" ]]; then
    echo "make_corpus: $out exists and is not empty" >&2
    exit 2
fi
command -v openssl >/dev/null || {
    echo "make_corpus: openssl not found (run scripts/deps.sh)" >&2
    exit 2
}
mkdir -p "$out"
cd "$out"

# Every file gets its own fixed mtime (whole seconds), starting 2024-01-02T03:04:05Z.
mtime=1704164645
files=()
put() { # put PATH < content
    mkdir -p "$(dirname "$1")"
    cat >"$1"
    files+=("$1")
}

# --- Notes -------------------------------------------------------------------------------------
put "Welcome.md" <<'EOF'
# Welcome

This vault is the Obsync interop corpus. Links: [[Meeting notes 2024-01-15]], [[Café résumé]].
EOF

put "Meeting notes 2024-01-15.md" <<'EOF'
# Meeting notes

- Names with spaces must survive a round trip.
- Tabs	and trailing spaces   
EOF

# Precomposed (NFC) é, ü, ß, CJK and emoji (4-byte UTF-8).
put "Café résumé.md" <<'EOF'
# Café résumé

Crème brûlée, naïve façade, smörgåsbord.
EOF

put "日本語のノート.md" <<'EOF'
# 日本語

東京で会いましょう。
EOF

put "Emoji 🎉 party 🚀.md" <<'EOF'
# 🎉

Rockets: 🚀🚀🚀 and a family: 👩‍👩‍👧
EOF

put "Ünïcødé folder/Straße 北京.md" <<'EOF'
Straße in 北京 — a note inside a folder whose name is not ASCII.
EOF

# Six folder levels deep.
put "Deep/Level 2/Level 3/Level 4/Level 5/Level 6/deep note.md" <<'EOF'
# Deep note

Six folders down.
EOF

put "Projects/Plan.md" <<'EOF'
# Plan

1. Upload with the official client.
2. Download with the official client and with Obsync.
3. Compare.
EOF

# A multi-line note longer than a few AES blocks, no trailing newline.
{
    for i in $(seq 1 200); do printf 'Line %03d: the quick brown fox jumps over the lazy dog.\n' "$i"; done
    printf 'last line without newline'
} | put "Projects/Long note.md"

put "Board.canvas" <<'EOF'
{"nodes":[{"id":"a1","type":"text","text":"Hello canvas","x":0,"y":0,"width":250,"height":60}],"edges":[]}
EOF

# An empty file: uploaded as size 0 / pieces 0, never encrypted (§3.3).
: | put "empty.md"

# 167-byte name whose v2/v3 SIV encoding needs the 16-bit counter wrap (§3.5, §3.8).
wrap="wrap-$(printf 'x%.0s' $(seq 1 150))-00014473.md"
[[ ${#wrap} -eq 167 ]] || {
    echo "make_corpus: wrap name is ${#wrap} bytes" >&2
    exit 1
}
put "$wrap" <<'EOF'
This note's path needs the 16-bit counter wrap in AES-SIV (protocol doc §3.5).
EOF

# --- Attachments -------------------------------------------------------------------------------
# 5,000,000 bytes (5,000,028 encrypted: 3 pieces of at most 2 MiB on upload and download). PNG
# signature then AES-CTR keystream of a fixed key: deterministic, incompressible. Not a decodable
# image; the sync client only looks at the extension.
{
    printf '\x89PNG\r\n\x1a\n'
    head -c 4999992 /dev/zero |
        openssl enc -aes-256-ctr -nosalt \
            -K 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
            -iv 00000000000000000000000000000000
} | put "Attachments/big image.png"
[[ $(stat -c %s "Attachments/big image.png") -eq 5000000 ]] || {
    echo "make_corpus: big image has the wrong size" >&2
    exit 1
}

# A small valid PDF (one page, one line of text), offsets computed below.
pdf_objects=(
    "<< /Type /Catalog /Pages 2 0 R >>"
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
    "__STREAM__"
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
)
pdf_stream="BT /F1 18 Tf 20 45 Td (Obsync interop corpus) Tj ET"
pdf="%PDF-1.4"$'\n'
offsets=()
for i in "${!pdf_objects[@]}"; do
    offsets+=("${#pdf}")
    body=${pdf_objects[$i]}
    if [[ $body == "__STREAM__" ]]; then
        body="<< /Length ${#pdf_stream} >>"$'\n'"stream"$'\n'"$pdf_stream"$'\n'"endstream"
    fi
    pdf+="$((i + 1)) 0 obj"$'\n'"$body"$'\n'"endobj"$'\n'
done
xref_at=${#pdf}
pdf+="xref"$'\n'"0 $((${#pdf_objects[@]} + 1))"$'\n'"0000000000 65535 f "$'\n'
for off in "${offsets[@]}"; do pdf+="$(printf '%010d' "$off") 00000 n "$'\n'; done
pdf+="trailer"$'\n'"<< /Size $((${#pdf_objects[@]} + 1)) /Root 1 0 R >>"$'\n'
pdf+="startxref"$'\n'"$xref_at"$'\n'"%%EOF"$'\n'
printf '%s' "$pdf" | put "Attachments/paper.pdf"

# An "unsupported" type (synced only with --file-types …,unsupported).
put "Attachments/readme.txt" <<'EOF'
Plain text attachment: synced only when the "unsupported" file type is enabled.
EOF

# --- Config dir (.obsidian): one file per enabled category we exercise --------------------------
put ".obsidian/app.json" <<'EOF'
{
  "alwaysUpdateLinks": true,
  "newFileLocation": "folder",
  "newFileFolderPath": "Projects"
}
EOF
put ".obsidian/appearance.json" <<'EOF'
{
  "accentColor": "#7c3aed",
  "baseFontSize": 16
}
EOF
put ".obsidian/plugins/x/data.json" <<'EOF'
{"setting":"value","nested":{"count":3}}
EOF

# --- Folders -----------------------------------------------------------------------------------
mkdir -p "Empty folder"

# --- Fixed mtimes ------------------------------------------------------------------------------
for f in "${files[@]}"; do
    touch -m -d "@$mtime" -- "$f"
    mtime=$((mtime + 61))
done
