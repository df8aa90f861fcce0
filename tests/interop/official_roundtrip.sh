#!/usr/bin/env bash
# Interop (a): the official client uploads the corpus to an end-to-end v3 vault on our fake server
# (device A) and downloads it again as a second device (B); then our downloader fetches the same
# vault. All three folders must be identical, file mtimes included.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
start_server

official_roundtrip

# Our downloader, after the official-client parts so those can be verified on their own first.
our_download "$VAULT" "$WORK/C" --vault-password "$VAULT_PASSWORD"
compare_trees "$WORK/A" "$WORK/C"

pass
