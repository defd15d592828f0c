#!/usr/bin/env bash
# Audits the first block of a Tally journal by hand, with stock tools only (no Swift, no Tally
# code): it reads the raw LMDB records with mdb_dump, recomputes every event hash of the first
# block with sha256sum, checks the block's chain head and Merkle root, and verifies the block's
# Ed25519 signature with openssl. The rules it applies are those of Schemas/journal.md.
#
# Usage: scripts/audit-by-hand.sh DIR [PUBLIC-KEY-PEM]
#   DIR             a Tally data directory (it holds journal/ and keys/)
#   PUBLIC-KEY-PEM  the journal's first public key, as obtained out of band; by default
#                   DIR/keys/journal-<key id>.pub.pem, named by the block's key id
#
# Exit status: 0 every check held; 1 a check failed (the mismatch is printed); 2 usage error, a
# missing tool, or unreadable input.
#
# Needs: bash, mdb_dump (Debian/Ubuntu package lmdb-utils), xxd (package xxd, or vim-common on
# older releases), sha256sum (coreutils), openssl (3.0 or later, for `pkeyutl -rawin`), awk.
# It installs nothing.

set -u -o pipefail

program=audit-by-hand

die() { # status message
    echo "$program: $2" >&2
    exit "$1"
}

mismatch() {
    echo "MISMATCH: $*"
    exit 1
}

require_tool() { # tool package
    command -v "$1" >/dev/null 2>&1 || die 2 "missing tool '$1' (install it with: apt-get install -y $2)"
}

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi

require_tool mdb_dump lmdb-utils
require_tool xxd xxd
require_tool sha256sum coreutils
require_tool openssl openssl
require_tool awk mawk

directory=${1%/}
journal=$directory/journal
[ -d "$directory" ] || die 2 "$directory: no such directory"
[ -f "$journal/data.mdb" ] || die 2 "$journal/data.mdb: no journal here (a data directory holds journal/ and keys/)"
if ! openssl pkeyutl -help 2>&1 | grep -q -- '-rawin'; then
    die 2 "openssl $(openssl version) has no 'pkeyutl -rawin' (Ed25519 needs OpenSSL 3.0 or later)"
fi

work=$(mktemp -d) || die 2 "cannot create a temporary directory"
trap 'rm -rf "$work"' EXIT

# Sets `digest` to the SHA-256 of hex-encoded bytes, as 64 lower-case hex digits. (A variable
# rather than output, to spare a subshell per hash on large blocks.)
sha256_of_hex() {
    digest=$(printf '%s' "$1" | xxd -r -p | sha256sum)
    digest=${digest:0:64}
}

# Writes the first LIMIT key/value pairs of named database DB to FILE as "KEY VALUE" lines, both
# hex, in key order (the order of mdb_dump). mdb_dump's plain format prints each key and each
# value on one line, indented by one space, between HEADER=END and DATA=END.
dump_pairs() { # database limit file
    mdb_dump -s "$1" "$journal" 2>"$work/mdb_dump.err" | awk -v limit="$2" '
        /^HEADER=END$/ { data = 1; next }
        /^DATA=END$/ { exit }
        data {
            sub(/^ /, "")
            if (line % 2 == 0) { key = $0 } else { print key, $0; if (++pairs >= limit) exit }
            line++
        }' >"$3"
    local statuses=("${PIPESTATUS[@]}")
    [ "${statuses[1]}" -eq 0 ] || die 2 "awk failed reading the $1 database"
    if [ "${statuses[0]}" -ne 0 ]; then
        # awk stops reading once it has LIMIT pairs; mdb_dump then fails on the closed pipe
        # ("Interrupted system call"), which is expected and harmless.
        if [ "$(wc -l <"$3")" -ge "$2" ] && grep -q 'Interrupted system call' "$work/mdb_dump.err"; then
            return 0
        fi
        die 2 "mdb_dump -s $1 $journal failed: $(cat "$work/mdb_dump.err")"
    fi
}

# Domain-separation prefixes, as hex: the ASCII text followed by one zero byte.
event_domain=$(printf 'tally/event/v1' | xxd -p)00
block_domain=$(printf 'tally/block/v1' | xxd -p)00

# --- The first block ---------------------------------------------------------------------------
# Stored in the `blocks` database under its last sequence (8 bytes, big-endian); the value is
# the 97-byte header followed by the 64-byte signature.
dump_pairs blocks 1 "$work/blocks"
if [ ! -s "$work/blocks" ]; then
    dump_pairs events 1 "$work/events"
    if [ -s "$work/events" ]; then
        mismatch "the journal holds events but no block seals them"
    fi
    echo "OK: the journal is empty (no events, no blocks); nothing to audit"
    exit 0
fi
read -r block_key block <"$work/blocks"
[ "${#block}" -eq 322 ] || mismatch "the first block record is $((${#block} / 2)) bytes, not 161"
header=${block:0:194}
signature=${block:194:128}
format=${header:0:2}
first_hex=${header:2:16}
last_hex=${header:18:16}
chain_head=${header:34:64}
merkle_root=${header:98:64}
time_hex=${header:162:16}
key_id=${header:178:16}
[ "$format" = 01 ] || mismatch "block header format is 0x$format, not 0x01"
[ "$block_key" = "$last_hex" ] || mismatch "the first block is stored under $block_key but its header ends at $last_hex"
first=$((16#$first_hex))
last=$((16#$last_hex))
[ "$first" -eq 1 ] || mismatch "the first block starts at sequence $first, not 1"
[ "$last" -ge "$first" ] || mismatch "the first block's range $first...$last is empty"
echo "block $first...$last: key id $key_id, time $((16#$time_hex)) ms"

# --- Its events --------------------------------------------------------------------------------
# Event hash = SHA-256(event domain || sequence, 8 bytes big-endian || previous event hash ||
# record bytes from offset 32 on); the previous hash of event 1 is 32 zero bytes. The stored
# record begins with the event hash.
dump_pairs events "$last" "$work/events"
previous=$(printf '%064d' 0)
sequence=$first
leaves=()
while read -r event_key record; do
    expected_key=$(printf '%016x' "$sequence")
    [ "$event_key" = "$expected_key" ] || mismatch "expected event $sequence (key $expected_key), found key $event_key"
    [ "${#record}" -ge 76 ] || mismatch "event $sequence: record is $((${#record} / 2)) bytes, shorter than 38"
    [ "${record:64:2}" = 01 ] || mismatch "event $sequence: record format is 0x${record:64:2}, not 0x01"
    type_length=$((16#${record:66:2}))
    payload_length=$((16#${record:68:8}))
    [ "${#record}" -eq $(((38 + type_length + payload_length) * 2)) ] ||
        mismatch "event $sequence: record is $((${#record} / 2)) bytes but its lengths say $((38 + type_length + payload_length))"
    stored=${record:0:64}
    sha256_of_hex "$event_domain$expected_key$previous${record:64}"
    computed=$digest
    [ "$computed" = "$stored" ] || mismatch "event $sequence: stored hash $stored, computed $computed"
    echo "ok  event $sequence hash $computed"
    leaves+=("$computed")
    previous=$computed
    sequence=$((sequence + 1))
done <"$work/events"
[ "$sequence" -eq $((last + 1)) ] || mismatch "the first block covers events $first...$last but event $sequence is not stored"

# --- Chain head and Merkle root ----------------------------------------------------------------
[ "$previous" = "$chain_head" ] || mismatch "chain head: the header says $chain_head, the last event hash is $previous"
echo "ok  chain head $chain_head"

# Inner node = SHA-256(0x01 || left || right); levels pair neighbours left to right and carry an
# odd last node up unchanged; a one-event block's root is its event hash.
level=("${leaves[@]}")
while [ "${#level[@]}" -gt 1 ]; do
    next=()
    index=0
    while [ $((index + 1)) -lt "${#level[@]}" ]; do
        sha256_of_hex "01${level[index]}${level[index + 1]}"
        next+=("$digest")
        index=$((index + 2))
    done
    if [ "$index" -lt "${#level[@]}" ]; then
        next+=("${level[index]}")
    fi
    level=("${next[@]}")
done
[ "${level[0]}" = "$merkle_root" ] || mismatch "Merkle root: the header says $merkle_root, the event hashes give ${level[0]}"
echo "ok  merkle root $merkle_root"

# --- The signing key ---------------------------------------------------------------------------
if [ $# -eq 2 ]; then
    public_key_file=$2
    [ -r "$public_key_file" ] || die 2 "$public_key_file: cannot read the public key file"
else
    public_key_file=$directory/keys/journal-$key_id.pub.pem
    [ -e "$public_key_file" ] || mismatch "the first block names key $key_id, but no $public_key_file is published"
    [ -r "$public_key_file" ] || die 2 "$public_key_file: cannot read the public key file"
fi
# An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte DER prefix and the 32-byte raw key.
key_der=$(openssl pkey -pubin -in "$public_key_file" -outform DER 2>"$work/openssl.err" | xxd -p | tr -d '\n') ||
    die 2 "$public_key_file: not a public key in PEM form: $(cat "$work/openssl.err")"
[ "${key_der:0:24}" = 302a300506032b6570032100 ] && [ "${#key_der}" -eq 88 ] ||
    die 2 "$public_key_file: not an Ed25519 public key"
raw_key=${key_der:24:64}
sha256_of_hex "$raw_key"
file_key_id=${digest:0:16}
[ "$file_key_id" = "$key_id" ] ||
    mismatch "the first block is signed by key $key_id, but $public_key_file holds key $file_key_id"
echo "ok  key id $key_id = first 8 bytes of SHA-256 of the raw public key in $public_key_file"

# The journal records its keys in the `keys` database (key id -> 113-byte record whose bytes
# 1..32 are the raw public key); the recorded key must be the key of the file.
dump_pairs keys 1000000 "$work/keys"
recorded_key=$(awk -v id="$key_id" '$1 == id { print substr($2, 3, 64) }' "$work/keys")
[ -n "$recorded_key" ] || mismatch "the journal's keys database holds no record for key $key_id"
[ "$recorded_key" = "$raw_key" ] ||
    mismatch "the journal records key $key_id as $recorded_key, but $public_key_file holds $raw_key"
echo "ok  key record $key_id holds the same public key"

# --- The signature -----------------------------------------------------------------------------
# Signed message = block domain || 97-byte header; the signature is plain Ed25519 (RFC 8032).
printf '%s' "$block_domain$header" | xxd -r -p >"$work/message.bin"
printf '%s' "$signature" | xxd -r -p >"$work/signature.bin"
if ! openssl pkeyutl -verify -pubin -inkey "$public_key_file" -rawin -in "$work/message.bin" \
    -sigfile "$work/signature.bin" >"$work/openssl.out" 2>&1; then
    mismatch "the signature of block $first...$last does not verify under $public_key_file: $(tr '\n' ' ' <"$work/openssl.out")"
fi
echo "ok  signature $signature"

echo "OK: block $first...$last of $journal: $((last - first + 1)) event hashes, chain head, Merkle root and the Ed25519 signature by key $key_id verify"
