#!/bin/bash
# Readiness of this broker: it answers, the controller counts it among the live brokers
# (registered), and it is in the in-sync replica set of every partition it hosts that has a
# leader (caught up). A rolling update moves to the next broker only then, so a roll never
# takes a partition's last in-sync copies away. It asks its own broker for its metadata with
# one Metadata v0 request and reads the answer with bash and od only, as both the public image
# and the stack's have them.
set -euo pipefail
id=${HOSTNAME##*-}
# The port of a plaintext listener on the loopback: 9092, or the port given.
exec 3<>/dev/tcp/127.0.0.1/"${1:-9092}"
# Size 19, api key 3 (Metadata), version 0, correlation id 1, client id "ready", no topic
# named (version 0: every topic).
printf '\x00\x00\x00\x13\x00\x03\x00\x00\x00\x00\x00\x01\x00\x05ready\x00\x00\x00\x00' >&3
size=$(head -c 4 <&3 | od -An -tu4 --endian=big | tr -d ' ')
# head -c reads no further than asked: the answer is exactly the next $size bytes, as words
# of digits (no globbing to fear).
# shellcheck disable=SC2207
bytes=($(head -c "$size" <&3 | od -An -tu1 -v))
(( ${#bytes[@]} == size )) || { echo "short answer: ${#bytes[@]} of $size bytes" >&2; exit 1; }

pos=4 # after the correlation id
int16() { R=$(( bytes[pos] << 8 | bytes[pos + 1] )); pos=$((pos + 2)); }
int32() {
  R=$(( bytes[pos] << 24 | bytes[pos + 1] << 16 | bytes[pos + 2] << 8 | bytes[pos + 3] ))
  (( R < 2147483648 )) || R=$((R - 4294967296))
  pos=$((pos + 4))
}

registered=no
int32; brokers=$R
for ((b = 0; b < brokers; b++)); do
  int32; [[ $R == "$id" ]] && registered=yes
  int16; pos=$((pos + R + 4)) # host, port
done
[[ $registered == yes ]] || { echo "broker $id is not among the live brokers yet" >&2; exit 1; }

behind=0
int32; topics=$R
for ((t = 0; t < topics; t++)); do
  int16 # error
  int16; pos=$((pos + R)) # name
  int32; partitions=$R
  for ((p = 0; p < partitions; p++)); do
    pos=$((pos + 6)) # error, partition id
    int32; leader=$R
    hosted=no in_sync=no
    int32; n=$R
    for ((r = 0; r < n; r++)); do int32; [[ $R == "$id" ]] && hosted=yes; done
    int32; n=$R
    for ((r = 0; r < n; r++)); do int32; [[ $R == "$id" ]] && in_sync=yes; done
    [[ $leader -ge 0 && $hosted == yes && $in_sync == no ]] && behind=$((behind + 1))
  done
done
(( behind == 0 )) || { echo "broker $id is not yet in sync on $behind partitions" >&2; exit 1; }
