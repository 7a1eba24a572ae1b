#!/bin/bash
# Starts this member. Its zoo.cfg and member list live on its volume: ZooKeeper rewrites both
# when the ensemble is reconfigured, and a member must come back with the list it last agreed to.
set -euo pipefail
myid=$((${HOSTNAME##*-} + 1))
conf=/data/conf
mkdir -p "$conf"
echo "$myid" >/data/myid

dynamic=$(sed -n 's/^dynamicConfigFile=//p' "$conf/zoo.cfg" 2>/dev/null || true)
if [[ -z $dynamic ]] || ! grep -q "^server\.$myid=" "$dynamic" 2>/dev/null; then
  dynamic=$conf/zoo.cfg.dynamic.seed
  if members=$(bash /conf/members.sh current "$ZOOKEEPER_SERVICE") && [[ -n $members ]]; then
    # A running ensemble that does not count this member (yet, or any more): it joins with the
    # ensemble's list plus itself, which ZooKeeper takes as a non-voting follower until a
    # reconfiguration adds it. It never brings a list of its own that could vote.
    { grep -v "^server\.$myid=" <<<"$members" || true; bash /conf/members.sh server "$myid"; } >"$dynamic"
  else
    # No member serves: the ensemble is being created, of the members the release asks for.
    for ((i = 1; i <= $(cat /conf/replicas); i++)); do
      bash /conf/members.sh server "$i"
    done >"$dynamic"
  fi
fi

# A super user known to this container only, for members.sh: the password is made here, on
# every start, and only its digest reaches ZooKeeper's configuration.
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >/tmp/zookeeper-super
digest=$(printf '%b' "$(printf 'super:%s' "$(cat /tmp/zookeeper-super)" | sha1sum | cut -c1-40 | sed 's/../\\x&/g')" | base64)
{
  cat /conf/zoo.cfg
  echo "DigestAuthenticationProvider.superDigest=super:$digest"
  echo "dynamicConfigFile=$dynamic"
} >"$conf/zoo.cfg"

# Java expands only a trailing `*` of a classpath entry: the shell finds the distribution's
# directory, whatever its version.
dist=$(echo /apache-zookeeper-*-bin)
# shellcheck disable=SC2086 # JVMFLAGS is a word list, as in ZooKeeper's own scripts
exec java $JVMFLAGS -cp "$dist/lib/*:/conf" org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf/zoo.cfg"
