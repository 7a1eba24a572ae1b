# A 3-node ZooKeeper ensemble and 3 Kafka 3.9 brokers in ZooKeeper mode, all from the Maven
# Central classpath. Each broker has a PLAINTEXT listener and a SASL_SSL one (PLAIN and SCRAM),
# and a DISTANT plaintext one advertised behind the benchmarks' latency proxy. An ACL authorizer
# denies every principal but the stack's own what no ACL allows.

KAFKA_LIBS() { echo "$CACHE_DIR/kafka-$KAFKA_VERSION/libs"; }
SASL_USER=hikube
SASL_PASSWORD_FILE() { echo "$STATE_DIR/kafka-sasl.password"; }
SASL_CLIENT_PROPERTIES() { echo "$STATE_DIR/kafka-client-sasl.properties"; }

joined_ports() {
  local sep="" port out=""
  for port in "$@"; do
    out+="${sep}127.0.0.1:$port"
    sep=,
  done
  echo "$out"
}
ZK_CONNECT() { joined_ports "${ZK_CLIENT_PORTS[@]}"; }
KAFKA_PLAIN_BOOTSTRAP() { joined_ports "${KAFKA_PLAIN_PORTS[@]}"; }
KAFKA_SASL_BOOTSTRAP() { joined_ports "${KAFKA_SASL_PORTS[@]}"; }

# A four-letter-word command to one ZooKeeper member.
zk_4lw() {
  local port=$1 word=$2
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s' "$word" >&3
  timeout 5 cat <&3
  exec 3<&-
}

zk_ok() { [[ $(zk_4lw "$1" ruok) == imok ]]; }

zk_mode() { zk_4lw "$1" srvr | sed -n 's/^Mode: //p'; }

zk_quorum() {
  local port modes=""
  for port in "${ZK_CLIENT_PORTS[@]}"; do
    modes+="$(zk_mode "$port") "
  done
  [[ $(grep -o leader <<<"$modes" | wc -l) -eq 1 && $(grep -o follower <<<"$modes" | wc -l) -eq 2 ]]
}

# java_cmd HEAP LOG4J: sets JAVA_CMD to a JVM command line on the Kafka classpath (an array,
# so that it can be handed to start_daemon, which needs an executable rather than a function).
java_cmd() {
  JAVA_CMD=(java "-Xms$1" "-Xmx$1" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$STATE_DIR/$2" -cp "$(KAFKA_LIBS)/*")
}

# kafka_java HEAP CLASS ARGS...: a short-lived tool whose stdout is its answer; warnings go to stderr.
kafka_java() {
  java_cmd "$1" tools-log4j.properties
  shift
  "${JAVA_CMD[@]}" "$@"
}

write_kafka_configs() {
  cat >"$STATE_DIR/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
LOG4J
  cat >"$STATE_DIR/tools-log4j.properties" <<'LOG4J'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
LOG4J
  if [[ ! -f $(SASL_PASSWORD_FILE) ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$(SASL_PASSWORD_FILE)")
  fi
  local password
  password=$(cat "$(SASL_PASSWORD_FILE)")
  local i
  for i in 0 1 2; do
    local dir=$STATE_DIR/zookeeper-$i
    mkdir -p "$dir/data"
    echo $((i + 1)) >"$dir/data/myid"
    {
      echo "tickTime=2000"
      echo "initLimit=10"
      echo "syncLimit=5"
      echo "dataDir=$dir/data"
      echo "clientPort=${ZK_CLIENT_PORTS[$i]}"
      echo "clientPortAddress=127.0.0.1"
      echo "admin.enableServer=false"
      echo "4lw.commands.whitelist=ruok,srvr,mntr,stat"
      local j
      for j in 0 1 2; do
        echo "server.$((j + 1))=127.0.0.1:${ZK_QUORUM_PORTS[$j]}:${ZK_ELECTION_PORTS[$j]}"
      done
    } >"$dir/zoo.cfg"
  done
  for i in 0 1 2; do
    local dir=$STATE_DIR/kafka-$i
    mkdir -p "$dir/data"
    (
      umask 077
      cat >"$dir/server.properties" <<PROPS
broker.id=$i
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PLAIN_PORTS[$i]},SASL_SSL://127.0.0.1:${KAFKA_SASL_PORTS[$i]},DISTANT://127.0.0.1:${KAFKA_DISTANT_PORTS[$i]}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PLAIN_PORTS[$i]},SASL_SSL://127.0.0.1:${KAFKA_SASL_PORTS[$i]},DISTANT://127.0.0.1:${KAFKA_DISTANT_ADVERTISED_PORTS[$i]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,DISTANT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
zookeeper.connect=$(ZK_CONNECT)/hikube-stack
zookeeper.session.timeout.ms=18000
log.dirs=$dir/data
broker.rack=zone-$i
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
default.replication.factor=3
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=8388608
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$CERT_DIR/kafka-broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$CERT_DIR/kafka-ca.crt
ssl.client.auth=none
# Deny by default: the stack's own clients (plaintext ones are User:ANONYMOUS) may do anything,
# every other principal only what an ACL allows, as on a secured cluster.
authorizer.class.name=kafka.security.authorizer.AclAuthorizer
super.users=User:ANONYMOUS;User:$SASL_USER
PROPS
    )
  done
  (
    umask 077
    cat >"$(SASL_CLIENT_PROPERTIES)" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SASL_USER" password="$password";
ssl.truststore.type=PEM
ssl.truststore.location=$CERT_DIR/kafka-ca.crt
PROPS
  )
}

start_zookeeper() {
  local i
  for i in 0 1 2; do
    java_cmd 128m log4j.properties
    start_daemon "zookeeper-$i" "${JAVA_CMD[@]}" \
      -Dzookeeper.jmx.log4j.disable=true org.apache.zookeeper.server.quorum.QuorumPeerMain \
      "$STATE_DIR/zookeeper-$i/zoo.cfg"
  done
  wait_for zookeeper 90 zk_quorum || die "zookeeper: no leader and two followers after 90s (logs: $LOG_DIR/zookeeper-*.log)"
}

broker_listening() { port_open "${KAFKA_PLAIN_PORTS[$1]}" && port_open "${KAFKA_SASL_PORTS[$1]}"; }

brokers_listening() {
  local port
  for port in "${KAFKA_PLAIN_PORTS[@]}" "${KAFKA_SASL_PORTS[@]}"; do
    port_open "$port" || return 1
  done
}

stack_admin() { kafka_java 64m "$(dirname "${BASH_SOURCE[0]}")/StackAdmin.java" "$@"; }

# All three brokers registered in ZooKeeper, as one broker's metadata shows them.
brokers_registered() { [[ $(stack_admin brokers "$(KAFKA_PLAIN_BOOTSTRAP)" 2>/dev/null | tail -n1) == 3 ]]; }

# 384 MB ran out with about 2,200 topics of 3 partitions (a benchmark's 3,000 plus another
# provider's): the broker kept accepting TCP and stopped answering. 1 GB holds the benchmarks'
# 6,000 with room; the JVM touches heap pages only as it fills them, so small runs do not pay.
start_broker() {
  java_cmd 1g log4j.properties
  start_daemon "kafka-$1" "${JAVA_CMD[@]}" kafka.Kafka "$STATE_DIR/kafka-$1/server.properties"
}

# A broker that crashed a moment ago left its registration in ZooKeeper, and a new broker with the
# same id exits until that session expires (zookeeper.session.timeout.ms): such a broker is
# started again, a few times, rather than waited for in vain.
wait_for_brokers() {
  local deadline=$((SECONDS + $1)) i
  local -a restarts=(0 0 0)
  until brokers_listening; do
    ((SECONDS < deadline)) || die "kafka: listeners not open after $1s (logs: $LOG_DIR/kafka-*.log)"
    for i in 0 1 2; do
      daemon_running "kafka-$i" && continue
      if ((restarts[i] == 3)); then
        tail -n 25 "$LOG_DIR/kafka-$i.log" >&2
        die "kafka-$i exited three times during start-up (log: $LOG_DIR/kafka-$i.log)"
      fi
      restarts[i]=$((restarts[i] + 1))
      log "kafka-$i exited during start-up ($(grep -m1 -o 'ERROR.*' <(tail -n 200 "$LOG_DIR/kafka-$i.log") | cut -c1-160)); starting it again"
      sleep 5
      start_broker "$i"
    done
    sleep 0.5
  done
}

# Data left by a stack that was never brought down (a killed session, a rebooted machine) holds
# ZooKeeper sessions and broker registrations that no longer exist. Nothing of it is worth keeping
# for a test stack, and ZooKeeper and Kafka data only make sense together, so both go.
forget_unstopped_kafka_data() {
  local i
  for i in 0 1 2; do
    daemon_running "zookeeper-$i" && return 0
    daemon_running "kafka-$i" && return 0
  done
  compgen -G "$STATE_DIR/kafka-*/data/meta.properties" >/dev/null || return 0
  log "kafka: removing ZooKeeper and Kafka data left by a stack that was not brought down"
  rm -rf "$STATE_DIR"/zookeeper-*/data "$STATE_DIR"/kafka-*/data
}

start_kafka() {
  local i
  for i in 0 1 2; do start_broker "$i"; done
  wait_for_brokers 120
  wait_for kafka 60 brokers_registered || die "kafka: 3 brokers not registered after 60s (logs: $LOG_DIR/kafka-*.log)"
  # Upserting the same credentials again is harmless, so this needs no existence check.
  run_logged kafka "$LOG_DIR/setup.log" stack_admin scram-user "$(KAFKA_PLAIN_BOOTSTRAP)" "$SASL_USER" \
    <"$(SASL_PASSWORD_FILE)"
}

kafka_up() {
  forget_unstopped_kafka_data
  write_kafka_configs
  log "zookeeper: starting a 3-node ensemble on $(ZK_CONNECT)"
  start_zookeeper
  log "kafka $KAFKA_VERSION: starting 3 brokers (plaintext $(KAFKA_PLAIN_BOOTSTRAP); SASL_SSL $(KAFKA_SASL_BOOTSTRAP))"
  start_kafka
  log "kafka: 3 brokers registered; SCRAM user '$SASL_USER' ready"
}

kafka_down() {
  local i
  for i in 2 1 0; do stop_daemon "kafka-$i"; done
  for i in 2 1 0; do stop_daemon "zookeeper-$i"; done
}

kafka_status() {
  local ok=0 i
  for i in 0 1 2; do
    report "zookeeper-$i ($(zk_mode "${ZK_CLIENT_PORTS[$i]}" 2>/dev/null || true))" zk_ok "${ZK_CLIENT_PORTS[$i]}" || ok=1
  done
  for i in 0 1 2; do
    report "kafka-$i (:${KAFKA_PLAIN_PORTS[$i]} plaintext, :${KAFKA_SASL_PORTS[$i]} SASL_SSL)" \
      broker_listening "$i" || ok=1
  done
  return $ok
}
