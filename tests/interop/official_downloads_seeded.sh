#!/usr/bin/env bash
# Interop (b): the fake server seeds the corpus into vaults of every encryption version the client
# supports (0, 2, 3, and a managed "standard encryption" v3 vault); the official client must
# download each one byte for byte, file mtimes included. Then our downloader must do the same.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
start_server
make_corpus "$WORK/corpus"

# Per vault: encryption version, seed password, and whether it is managed ("standard encryption":
# the server keeps the password and hands it to clients in /vault/list, §2, so the client and our
# downloader are given none). V2's password checks NFKC: "ﬁ" (U+FB01) must become "fi" (§3.1).
vaults=(V0 V2 V3 V3M)
declare -A version=([V0]=0 [V2]=2 [V3]=3 [V3M]=3)
declare -A seed_password=([V0]='pw zero' [V2]='pässwörd ﬁ' [V3]='correct horse' [V3M]=6113761f8929d1c8527f80414030f6df)
declare -A managed=([V0]=0 [V2]=0 [V3]=0 [V3M]=1)
client_password() { ((managed[$1])) || printf '%s' "${seed_password[$1]}"; }

for v in "${vaults[@]}"; do
    extra=()
    ((managed[$v])) && extra=(--managed)
    seed_vault --vault "$v" --password "${seed_password[$v]}" --encryption-version "${version[$v]}" \
        "${extra[@]}" "$WORK/corpus"
done

ob_login D
for v in "${vaults[@]}"; do
    ob_setup D "$v" "$WORK/official-$v" "$(client_password "$v")"
    ob_sync D "$WORK/official-$v"
    compare_trees "$WORK/corpus" "$WORK/official-$v"
done

# Our downloader, after the official-client parts so those can be verified on their own first.
for v in "${vaults[@]}"; do
    if ((managed[$v])); then
        our_download "$v" "$WORK/ours-$v"
    else
        our_download "$v" "$WORK/ours-$v" --vault-password "${seed_password[$v]}"
    fi
    compare_trees "$WORK/corpus" "$WORK/ours-$v"
done

pass
