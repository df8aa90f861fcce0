#!/usr/bin/env bash
# Interop (c): after a round trip (A uploads, B downloads), A edits a note, deletes a file, renames
# a file and adds a folder with a file; `ob sync` on A, then an incremental `ob sync` on B (same
# config root, so B resumes from its saved version). A and B must be identical again, and so must
# a fresh device E that downloads the whole vault after those changes.
# Then our downloader and the obsync CLI: a full download with saved state, a second batch of
# changes on A, and an incremental download from that state; each must match A both times.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
start_server

official_roundtrip

# Changes get fixed mtimes (after the corpus ones) so the mtime comparison stays exact.
log "batch 1 on A: edit, delete, rename, new folder with a file"
(
    cd "$WORK/A"
    printf '\nEdited on device A.\n' >>"Welcome.md"
    touch -m -d @1706000000 "Welcome.md"
    rm "Projects/Plan.md"
    mv "Meeting notes 2024-01-15.md" "Meeting notes (renamed).md"
    mkdir -p "New folder/Sub"
    printf '# New\n\nCreated after the first sync.\n' >"New folder/Sub/new note.md"
    touch -m -d @1706000100 "New folder/Sub/new note.md"
)
ob_sync A "$WORK/A"
ob_sync B "$WORK/B"
compare_trees "$WORK/A" "$WORK/B"
[[ ! -e "$WORK/B/Projects/Plan.md" && ! -e "$WORK/B/Meeting notes 2024-01-15.md" ]] ||
    fail "B still has a deleted or renamed-away file"

# A fresh device now gets the initial snapshot of a log that holds deletions and a rename (§4.6:
# latest live record per path, no deletions); it must match A too.
ob_login E
ob_setup E "$VAULT" "$WORK/E" "$VAULT_PASSWORD"
ob_sync E "$WORK/E"
compare_trees "$WORK/A" "$WORK/E"

# Our downloader, after the official-client parts so those can be verified on their own first.
our_download "$VAULT" "$WORK/C" --vault-password "$VAULT_PASSWORD" --state "$WORK/ours.state"
compare_trees "$WORK/A" "$WORK/C"
obsync_sync "$VAULT" "$WORK/D" "$VAULT_PASSWORD"
compare_trees "$WORK/A" "$WORK/D"

log "batch 2 on A: edit a large note and a config file, delete, move across folders, new folder"
(
    cd "$WORK/A"
    printf '\nAppended in batch 2.\n' >>"Projects/Long note.md"
    touch -m -d @1706100000 "Projects/Long note.md"
    printf '{\n  "alwaysUpdateLinks": false\n}\n' >".obsidian/app.json"
    touch -m -d @1706100060 ".obsidian/app.json"
    rm "Attachments/readme.txt"
    mv "日本語のノート.md" "Ünïcødé folder/日本語 moved.md"
    mkdir -p "Batch two"
    printf 'second batch\n' >"Batch two/b2.md"
    touch -m -d @1706100120 "Batch two/b2.md"
)
ob_sync A "$WORK/A"
our_download "$VAULT" "$WORK/C" --vault-password "$VAULT_PASSWORD" --state "$WORK/ours.state"
compare_trees "$WORK/A" "$WORK/C"
obsync_sync "$VAULT" "$WORK/D" "$VAULT_PASSWORD"
compare_trees "$WORK/A" "$WORK/D"
ob_sync B "$WORK/B"
compare_trees "$WORK/A" "$WORK/B"

pass
