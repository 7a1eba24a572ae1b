#!/bin/bash
# The ensemble's voting members, read and changed through ZooKeeper's dynamic reconfiguration,
# so that no member ever restarts with a member list the others do not share (which, growing,
# can form a second quorum and, shrinking, lose the only one).
#
#   members.sh current [HOST]  the members (server.N=... lines) as a serving member at HOST
#                              (default: this pod) reports them; fails when none answers
#   members.sh set N           makes members 1..N the voting members; run in a member's container
#                              by the provider, before a shrink and after a growth
#
# ZOOKEEPER_MEMBER is the printf template of a member's host name, given its ordinal.
set -euo pipefail

member() {
  printf "server.%d=$ZOOKEEPER_MEMBER:2888:3888:participant;2181\n" "$1" "$(($1 - 1))"
}

current() {
  timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/2181" && printf conf >&3 && cat <&3' "${1:-127.0.0.1}" |
    sed -n '/^membership:/,$p' | grep '^server\.'
}

ids() { sed 's/=.*//' | sort; }

case ${1:-} in
current)
  current "${2:-}"
  ;;
set)
  [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "usage: members.sh set COUNT" >&2; exit 2; }
  wanted=$(for ((i = 1; i <= $2; i++)); do member "$i"; done)
  if [[ $(current | ids) != $(ids <<<"$wanted") ]]; then
    # The request authenticates as this member's own super user (a password made at its start,
    # readable by this container only); the leader trusts the member that forwards it.
    log=$(mktemp)
    printf 'addauth digest super:%s\nreconfig -members %s\nquit\n' "$(cat /tmp/zookeeper-super)" \
      "$(tr '\n' ',' <<<"$wanted" | sed 's/,$//')" |
      java -Xmx24m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$(echo /apache-zookeeper-*-bin)/lib/*" \
        org.apache.zookeeper.ZooKeeperMain -server 127.0.0.1:2181 >"$log" 2>&1 || true
    if [[ $(current | ids) != $(ids <<<"$wanted") ]]; then
      echo "the members are still $(current | ids | tr '\n' ' ')after asking for $(ids <<<"$wanted" | tr '\n' ' ')" >&2
      grep -v -e ' DEBUG ' -e ' INFO ' -e '^\s*at ' "$log" | tail -5 >&2
      exit 1
    fi
  fi
  current
  ;;
*)
  echo "usage: members.sh current [HOST] | members.sh set COUNT" >&2
  exit 2
  ;;
esac
