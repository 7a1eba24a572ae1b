#!/bin/bash
# The ensemble's voting members, read and changed through ZooKeeper's dynamic reconfiguration,
# so that no member ever restarts with a member list the others do not share (which, growing,
# can form a second quorum and, shrinking, lose the only one).
#
#   members.sh current [HOST]  the members (server.N=... lines) as a serving member at HOST
#                              (default: this pod) reports them; fails when none answers
#   members.sh set N           makes members 1..N the voting members; run in a member's container
#                              by the provider, before a shrink and after a growth
#   members.sh server N        member N's line of a member list (for start.sh's seed)
#
# ZOOKEEPER_MEMBER is the printf template of a member's host name, given its ordinal.
set -euo pipefail

member() {
  printf "server.%d=$ZOOKEEPER_MEMBER:2888:3888:participant;2181\n" "$1" "$(($1 - 1))"
}

# ask HOST WORD: what the member at HOST answers to a four-letter word.
ask() {
  timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/2181" && printf "$1" >&3 && cat <&3' "$1" "$2"
}

current() {
  ask "${1:-127.0.0.1}" conf | sed -n '/^membership:/,$p' | grep '^server\.'
}

ids() { sed 's/=.*//' | sort; }

case ${1:-} in
current)
  current "${2:-}"
  ;;
server)
  member "$2"
  ;;
set)
  [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "usage: members.sh set COUNT" >&2; exit 2; }
  wanted=$(for ((i = 1; i <= $2; i++)); do member "$i"; done)
  if [[ $(current | ids) != $(ids <<<"$wanted") ]]; then
    # A member is added only once it runs and has caught up as a non-voting follower: the
    # others alone may be a majority of the new set, and ZooKeeper would accept voters that
    # are not there, leaving the ensemble less tolerant than its size says.
    for ((i = 1; i <= $2; i++)); do
      host=$(printf "$ZOOKEEPER_MEMBER" "$((i - 1))")
      mode=$(ask "$host" srvr 2>/dev/null | sed -n 's/^Mode: //p' || true)
      [[ $mode == leader || $mode == follower ]] || {
        echo "member $i ($host) is not serving as a follower yet (${mode:-no answer}): try again once its pod is Ready" >&2
        exit 1
      }
    done
    # The request authenticates as this member's own super user (a password made at its start,
    # readable by this container only); the leader trusts the member that forwards it. Nothing
    # the client prints is passed on whole, since a console may echo the password back.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    printf 'addauth digest super:%s\nreconfig -members %s\nquit\n' "$(cat /tmp/zookeeper-super)" \
      "$(tr '\n' ',' <<<"$wanted" | sed 's/,$//')" |
      timeout 90 java -Xmx24m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -cp "$(echo /apache-zookeeper-*-bin)/lib/*" org.apache.zookeeper.ZooKeeperMain -server 127.0.0.1:2181 \
        >"$log" 2>&1 || true
    if [[ $(current | ids) != $(ids <<<"$wanted") ]]; then
      echo "the members are still $(current | ids | tr '\n' ' ')after asking for $(ids <<<"$wanted" | tr '\n' ' ')" >&2
      grep -E 'Exception|KeeperErrorCode|[Ii]nsufficient|[Ee]rror' "$log" | grep -v 'addauth' |
        sed -E 's/super:[^ ]+/super:<redacted>/g' | tail -5 >&2 || true
      exit 1
    fi
  fi
  current
  ;;
*)
  echo "usage: members.sh current [HOST] | members.sh set COUNT | members.sh server N" >&2
  exit 2
  ;;
esac
